import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { SE_NAMES_EXPECTED, storageElementNames } from '../config/config.js';
import { Invalid } from '../config/fields.js';
import { couchFromConfig } from '../db/couch.js';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { makeUserFolder } from '../files.js';
import { grabFiles, type GrabEvent, type GrabFile, type GrabResult } from '../grab/grab.js';
import { DATA_TYPES, listGrabFiles, writeCatalogue } from '../grab/list.js';
import {
  readSelection,
  selectionOptions,
  unknownLabel,
  type Selection,
  type SelectionOptions,
} from '../shifter/selection.js';
import { didYouMean, plural } from '../words.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { wholeNumber } from './numbers.js';

interface GrabOptions extends ConfigOptions, SelectionOptions {
  type?: string;
  dir?: string;
  parallel: string;
  copy?: string;
  prefer?: string;
}

const DEFAULT_STATUSES = ['completed', 'partFail'] as const;

function bytes(count: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Which copy a file came from, when copies before it could not be fetched. */
function from(event: Extract<GrabEvent, { kind: 'fetched' }>): string {
  return event.passedOver.length === 0 ? '' : ` from ${event.replica.se} (passed over ${event.passedOver.join('; ')})`;
}

/** Progress on a terminal: files, bytes, rate and time left; elsewhere a line per file. */
function reporter(files: readonly GrabFile[]): { onEvent: (event: GrabEvent) => void; stop: () => void } {
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const started = Date.now();
  let done = 0;
  let count = 0;
  if (process.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'grab [{bar}] {files}/{nfiles} files | {got} of {all} | {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, {
      files: 0,
      nfiles: files.length,
      got: bytes(0),
      all: bytes(total),
      rate: bytes(0),
    });
    const payload = () => ({
      files: count,
      nfiles: files.length,
      got: bytes(done),
      all: bytes(total),
      rate: bytes(done / Math.max((Date.now() - started) / 1000, 0.001)),
    });
    // said once the bar is gone: a file that came from a copy other than the first
    const passedOver: string[] = [];
    return {
      onEvent(event) {
        if (event.kind === 'bytes') done += event.bytes;
        else count += 1;
        if (event.kind === 'present') done += event.file.size;
        if (event.kind === 'fetched' && event.passedOver.length > 0)
          passedOver.push(`fetched ${event.file.name}${from(event)}`);
        bar.update(done, payload());
      },
      stop: () => {
        bar.stop();
        for (const line of passedOver) print(line);
      },
    };
  }
  return {
    onEvent(event) {
      if (event.kind === 'bytes') return;
      count += 1;
      const at = `[${count}/${files.length}]`;
      if (event.kind === 'fetched') print(`fetched ${event.file.name} (${bytes(event.bytes)})${from(event)} ${at}`);
      if (event.kind === 'present') print(`present ${event.file.name} (verified, not fetched again) ${at}`);
      if (event.kind === 'failed') print(`FAILED ${event.file.name}: ${event.reason} ${at}`);
    },
    stop: () => {},
  };
}

export function registerGrab(program: Command): void {
  const command = program
    .command('grab')
    .description(
      'download the output files of a label (or any selection): verified by size and sha256, resumable, with a catalogue beside them',
    );
  selectionOptions(command, DEFAULT_STATUSES)
    .option('--type <list>', 'only these data types, comma-separated (such as ntuple,ratds)')
    .option('-d, --dir <folder>', 'where the files go (default: the label, or "grab")')
    .option('--parallel <n>', 'files fetched at once', '4')
    .option(
      '--prefer <SEs>',
      'storage elements to fetch from first, comma-separated, such as SFU-SE,RAL-SE (default: [grab] prefer in the config file)',
    )
    .option(
      '--copy <command>',
      'for URLs other than file://, http(s):// and root://: a command with {src} and {dest}, such as "gfal-copy {src} {dest}" (run as an argument list, never through a shell)',
    )
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      '\nEach file comes from the first of its copies (replicas) that can be fetched: the SEs of --prefer first, root:// with xrdcp. A file already in the folder and verified is not fetched again, so a grab that was interrupted is resumed by running it again. A file whose size, adler32 or sha256 is wrong is deleted and reported. catalogue.txt ("<file>, <events>" per line) and manifest.json are written beside the files.\n\nExamples:\n  gasp grab --label mc-2026-bi214 --type ntuple -d bi214\n  gasp grab --exactly mc-2026-bi214.exactly --parallel 8 --prefer SFU-SE',
    )
    .action(async (_options: unknown, cmd: Command) => runGrab(cmd.optsWithGlobals<GrabOptions>()));
}

/** What the options ask for, each checked. */
interface GrabRequest {
  selection: Selection;
  parallel: number;
  copy: string[] | undefined;
  types: Set<string> | undefined;
  /** --prefer, which wins over [grab] prefer. */
  prefer: string[] | undefined;
}

function readPrefer(value: string | undefined, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  try {
    return storageElementNames(value);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    problems.push(`--prefer: "${value}" ${error.message} (expected ${SE_NAMES_EXPECTED})`);
    return undefined;
  }
}

/** The options read and checked, every problem at once. */
function readGrabOptions(options: GrabOptions): GrabRequest {
  const problems: string[] = [];
  const selection = readSelection(options, DEFAULT_STATUSES, problems);
  const parallel = wholeNumber('--parallel', options.parallel, problems, '4');
  if (parallel < 1 || parallel > 64) problems.push(`--parallel: "${options.parallel}" is not from 1 to 64`);
  const copy = options.copy?.split(/\s+/).filter((word) => word !== '');
  if (copy !== undefined && (!options.copy?.includes('{src}') || !options.copy.includes('{dest}')))
    problems.push(`--copy: "${options.copy}" has no {src} and {dest} (expected such as "gfal-copy {src} {dest}")`);
  if (options.copy !== undefined && /["'\\]/.test(options.copy))
    problems.push(
      `--copy: "${options.copy}" has quotes or backslashes, but it is split on spaces and never run by a shell (expected such as "gfal-copy {src} {dest}")`,
    );
  const types =
    options.type === undefined
      ? undefined
      : new Set(
          options.type
            .split(',')
            .map((type) => type.trim())
            .filter((type) => type !== ''),
        );
  const prefer = readPrefer(options.prefer, problems);
  if (problems.length > 0) throw new InputError(problems);
  return { selection, parallel, copy, types, prefer };
}

/** The files the selection names; an unknown label or data type is bad input. */
async function filesToGrab(
  db: Database,
  { selection, types }: GrabRequest,
  prefer: readonly string[],
): Promise<GrabFile[]> {
  const badLabel = selection.label === undefined ? undefined : await unknownLabel(db, '--label', selection.label);
  const { files, typesHeld } = await listGrabFiles(db, selection, types, prefer);
  const known = new Set([...DATA_TYPES, ...typesHeld]);
  const badTypes = [...(types ?? [])]
    .filter((type) => !known.has(type))
    .map(
      (type) =>
        `--type: "${type}" is not a data type${didYouMean(type, known) || ` (expected ${[...known].join(', ')})`}`,
    );
  if (badLabel !== undefined || badTypes.length > 0)
    throw new InputError([...(badLabel === undefined ? [] : [badLabel]), ...badTypes]);
  return files;
}

async function runGrab(options: GrabOptions): Promise<void> {
  const request = readGrabOptions(options);
  const { selection, parallel, copy, types } = request;
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const files = await filesToGrab(db, request, request.prefer ?? config.grab.prefer);
  if (files.length === 0) {
    print(
      `grab: no output files match (passes ${selection.statuses.join(', ')}${types === undefined ? '' : `, types ${[...types].join(', ')}`})`,
    );
    return;
  }
  const dir = options.dir ?? selection.label ?? 'grab';
  makeUserFolder('--dir', dir);
  const total = files.reduce((sum, file) => sum + file.size, 0);
  print(`grab: ${plural(files.length, 'file')}, ${bytes(total)}, into ${dir}`);
  const progress = reporter(files);
  const started = Date.now();
  const result = await grabFiles(files, {
    dir,
    parallel,
    ...(copy !== undefined && { copy }),
    onEvent: progress.onEvent,
  });
  progress.stop();
  printGrabbed(dir, result, (Date.now() - started) / 1000);
}

/** The catalogue written, and what was fetched, already there, and failed (exit code 1 when any failed). */
function printGrabbed(dir: string, result: GrabResult, seconds: number): void {
  const { catalogue } = writeCatalogue(dir, [...result.fetched, ...result.present]);
  print(
    `grab: ${result.fetched.length} fetched (${bytes(result.bytes)} in ${seconds.toFixed(1)} s, ${bytes(result.bytes / Math.max(seconds, 0.001))}/s), ${result.present.length} already present, ${result.failed.length} failed; catalogue ${catalogue}`,
  );
  for (const { file, reason } of result.failed) print(`  FAILED ${file.name}: ${reason}`);
  if (result.failed.length > 0) {
    print('  run the same command again to fetch the failed files');
    process.exitCode = 1;
  }
}
