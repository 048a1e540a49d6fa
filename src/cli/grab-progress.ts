import cliProgress from 'cli-progress';
import { grabFiles, type GrabEvent, type GrabFile, type GrabResult } from '../grab/grab.js';
import { writeCatalogue } from '../grab/list.js';
import { print } from './context.js';

/** A size for people: 12.3 MB. */
export function bytes(count: number): string {
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

/** Fetches the files into `dir` with a progress bar (or a line per file), then writes the catalogue and says what happened. */
export async function fetchWithProgress(
  files: readonly GrabFile[],
  dir: string,
  { parallel, copy }: { parallel: number; copy: string[] | undefined },
): Promise<void> {
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
