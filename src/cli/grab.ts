import type { Command } from 'commander';
import { SE_NAMES_EXPECTED, storageElementNames } from '../config/config.js';
import { Invalid } from '../config/fields.js';
import { couchFromConfig } from '../db/couch.js';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { makeUserFolder } from '../files.js';
import type { GrabFile } from '../grab/grab.js';
import { DATA_TYPES, listGrabFiles } from '../grab/list.js';
import {
  readSelection,
  selectionOptions,
  unknownLabel,
  type Selection,
  type SelectionOptions,
} from '../shifter/selection.js';
import { didYouMean, plural } from '../words.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { grabFromList, readListTarget, writeList, type ListTarget } from './grab-list.js';
import { bytes, fetchWithProgress } from './grab-progress.js';
import { wholeNumber } from './numbers.js';

interface GrabOptions extends ConfigOptions, SelectionOptions {
  type?: string;
  dir?: string;
  parallel: string;
  copy?: string;
  prefer?: string;
  list?: string;
  copyType?: string;
  force?: boolean;
  fromList?: string;
}

const DEFAULT_STATUSES = ['completed', 'partFail'] as const;

const HELP = `
Each file comes from the first of its copies (replicas) that can be fetched: the SEs of --prefer first, root:// with xrdcp. A file already in the folder and verified is not fetched again, so a grab that was interrupted is resumed by running it again. A file whose size, adler32 or sha256 is wrong is deleted and reported. catalogue.txt ("<file>, <events>" per line) and manifest.json (with what each file was checked by) are written beside the files.

GridTools file lists (filelist.dat: a first line GUID or SURL, then "name size guid-or-surl adler32" per file, adler32 -99999 when unknown): --list writes one of a selection instead of fetching (for gasp grab --from-list; for GridTools' grabber use --copy-type surl, as its GUID mode asks the grid's catalogue, which does not hold gasp's GUIDs); --from-list fetches the files of one. A GUID is looked up in the database (its copies, its sha256); a SURL is the one copy, fetched when it is root:// or file://, with the sha256 of the file the database records there where there is one. The whole list is checked before anything is fetched.

Examples:
  gasp grab --label mc-2026-bi214 --type ntuple -d bi214
  gasp grab --exactly mc-2026-bi214.exactly --parallel 8 --prefer SFU-SE
  gasp grab --label mc-2026-bi214 --type ntuple --list filelist.dat
  gasp grab --label mc-2026-bi214 --list filelist.dat --copy-type surl --prefer SFU-SE --force
  gasp grab --from-list filelist.dat -d bi214`;

export function registerGrab(program: Command): void {
  const command = program
    .command('grab')
    .description(
      'download the output files of a label (or any selection, or a GridTools file list): verified by size, adler32 and sha256, resumable, with a catalogue beside them',
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
    .option('--list <file>', 'write a GridTools file list of the selection to this file instead of fetching')
    .option(
      '--copy-type <type>',
      'with --list: name each file by its guid or by the surl of its first copy (default: guid)',
    )
    .option('--force', 'with --list: replace the file if it exists')
    .option('--from-list <file>', 'fetch the files a GridTools file list names (instead of a selection)')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', HELP)
    .action(async (_options: unknown, cmd: Command) => runGrab(cmd.optsWithGlobals<GrabOptions>()));
}

/** How the files are fetched, each option checked. */
interface FetchRequest {
  parallel: number;
  copy: string[] | undefined;
  /** --prefer, which wins over [grab] prefer. */
  prefer: string[] | undefined;
}

/** What the options ask for with a selection, each checked. */
interface GrabRequest extends FetchRequest {
  selection: Selection;
  types: Set<string> | undefined;
  list: ListTarget | undefined;
}

/** The selection options by their names on the command line: a list names the files instead. */
const SELECTING: ReadonlyArray<[keyof GrabOptions, string]> = [
  ['label', '--label'],
  ['module', '--module'],
  ['run', '--run'],
  ['runlist', '-L'],
  ['exactly', '--exactly'],
  ['pass', '--pass'],
  ['lastPass', '--last-pass'],
  ['allPasses', '--all-passes'],
  ['status', '--status'],
  ['site', '--site'],
  ['rat', '--rat'],
  ['type', '--type'],
];

/** Options that do not go together, one line each: a list is written or fetched, never both, and a list fetched is not a selection. */
function modeProblems(options: GrabOptions): string[] {
  const problems: string[] = [];
  if (options.list !== undefined && options.fromList !== undefined)
    problems.push(
      '--list: does not go with --from-list (expected one of them: --list writes a list of a selection, --from-list fetches the files of a list)',
    );
  const selecting = SELECTING.filter(([key]) => options[key] !== undefined).map(([, name]) => name);
  if (options.fromList !== undefined && selecting.length > 0)
    problems.push(
      `--from-list: does not go with ${selecting.join(', ')} (expected the list alone: it names the files to fetch)`,
    );
  for (const [given, name] of [
    [options.copyType, '--copy-type'],
    [options.force, '--force'],
  ] as const)
    if (given !== undefined && options.list === undefined)
      problems.push(`${name}: goes only with --list (expected --list FILE with it)`);
  return problems;
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

/** --parallel, --copy and --prefer, read and checked; problems added one line each. */
function readFetchOptions(options: GrabOptions, problems: string[]): FetchRequest {
  const parallel = wholeNumber('--parallel', options.parallel, problems, '4');
  if (parallel < 1 || parallel > 64) problems.push(`--parallel: "${options.parallel}" is not from 1 to 64`);
  const copy = options.copy?.split(/\s+/).filter((word) => word !== '');
  if (copy !== undefined && (!options.copy?.includes('{src}') || !options.copy.includes('{dest}')))
    problems.push(`--copy: "${options.copy}" has no {src} and {dest} (expected such as "gfal-copy {src} {dest}")`);
  if (options.copy !== undefined && /["'\\]/.test(options.copy))
    problems.push(
      `--copy: "${options.copy}" has quotes or backslashes, but it is split on spaces and never run by a shell (expected such as "gfal-copy {src} {dest}")`,
    );
  return { parallel, copy, prefer: readPrefer(options.prefer, problems) };
}

/** The options read and checked, every problem at once. */
function readGrabOptions(options: GrabOptions): GrabRequest {
  const problems: string[] = [];
  const selection = readSelection(options, DEFAULT_STATUSES, problems);
  const fetch = readFetchOptions(options, problems);
  const types =
    options.type === undefined
      ? undefined
      : new Set(
          options.type
            .split(',')
            .map((type) => type.trim())
            .filter((type) => type !== ''),
        );
  const list =
    options.list === undefined ? undefined : readListTarget(options.list, options.copyType, options.force, problems);
  if (problems.length > 0) throw new InputError(problems);
  return { ...fetch, selection, types, list };
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
  const modes = modeProblems(options);
  if (modes.length > 0) throw new InputError(modes);
  if (options.fromList !== undefined) return runFromList(options, options.fromList);
  const request = readGrabOptions(options);
  const { selection, types } = request;
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const files = await filesToGrab(db, request, request.prefer ?? config.grab.prefer);
  if (files.length === 0) {
    print(
      `grab: no output files match (passes ${selection.statuses.join(', ')}${types === undefined ? '' : `, types ${[...types].join(', ')}`})`,
    );
    return;
  }
  if (request.list !== undefined) return writeList(request.list, files);
  const dir = options.dir ?? selection.label ?? 'grab';
  makeUserFolder('--dir', dir);
  const total = files.reduce((sum, file) => sum + file.size, 0);
  print(`grab: ${plural(files.length, 'file')}, ${bytes(total)}, into ${dir}`);
  await fetchWithProgress(files, dir, request);
}

/** `--from-list FILE`: the files of a GridTools list, fetched as a selection's are. */
async function runFromList(options: GrabOptions, file: string): Promise<void> {
  const problems: string[] = [];
  const fetch = readFetchOptions(options, problems);
  if (problems.length > 0) throw new InputError(problems);
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  await grabFromList(db, file, { ...fetch, prefer: fetch.prefer ?? config.grab.prefer, dir: options.dir ?? 'grab' });
}
