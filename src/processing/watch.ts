import type { RawFilesConfig } from '../config/config.js';
import { sleep } from '../db/backoff.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { ProcessingInfoDoc } from '../model/documents.js';
import { classify, runTypeIn, type RawSubfile } from './raw-folder.js';
import type { RawSource } from './raw-source.js';
import { addRuns, type RunInput } from './runs.js';

export interface WatchSettings {
  patterns: RawFilesConfig;
  /** A run with no new subfile for this long is complete. */
  settleMs: number;
  /** The run types the processing information knows; undefined: none uploaded, so none checked. */
  knownRunTypes?: ReadonlySet<string>;
}

/** What the watcher remembers between polls (in memory only). */
export interface WatchState {
  /** Sizes at the previous poll, by file name. */
  sizes: Map<string, number>;
  /** adler32 by name, size and time, so a file is read once. */
  checksums: Map<string, string>;
  /** Names and run types already warned about. */
  warned: Set<string>;
}

export const newWatchState = (): WatchState => ({ sizes: new Map(), checksums: new Map(), warned: new Set() });

/** What one poll did. */
export interface PollReport {
  /** Runs written: `100151 added (complete)`. */
  written: string[];
  /** Raw files still growing (or first seen), not registered yet. */
  settling: string[];
  /** Warnings first given in this poll (names matching no pattern, unknown run types). */
  warnings: string[];
  /** Names matching no pattern, in all. */
  unmatched: number;
}

/**
 * One look at the source: raw files the same size as at the previous poll are registered (with
 * their adler32 and URL) in their run's document; a run is complete when it has a closing file, or
 * when its newest subfile is older than the settle time (times from the source: to the second on a
 * storage element), and none of its files is still growing. Writes only what changed, so polling
 * the same source again changes nothing.
 */
export async function pollSource(
  db: Database,
  source: RawSource,
  state: WatchState,
  settings: WatchSettings,
  now: Date,
): Promise<PollReport> {
  const listing = classify(await source.list(), settings.patterns);
  const report: PollReport = { written: [], settling: [], warnings: [], unmatched: listing.unmatched.length };
  for (const name of listing.unmatched)
    warnOnce(state, report, `name:${name}`, `${name}: matches no raw file name pattern; not registered`);
  const previous = state.sizes;
  state.sizes = new Map(listing.raw.map((file) => [file.name, file.size]));
  const byRun = new Map<number, { stable: RawSubfile[]; growing: RawSubfile[] }>();
  for (const file of listing.raw) {
    const entry = byRun.get(file.run) ?? { stable: [], growing: [] };
    (previous.get(file.name) === file.size ? entry.stable : entry.growing).push(file);
    byRun.set(file.run, entry);
  }
  await checksumsOf(
    source,
    [...byRun.values()].flatMap((entry) => entry.stable),
    state,
  );
  const runs: RunInput[] = [];
  for (const [run, { stable, growing }] of [...byRun].sort(([a], [b]) => a - b)) {
    report.settling.push(...growing.map((file) => file.name));
    if (stable.length === 0) continue;
    const newest = Math.max(...listing.raw.filter((file) => file.run === run).map((file) => file.mtimeMs));
    const settled = listing.closed.has(run) || now.getTime() - newest >= settings.settleMs;
    runs.push({
      run,
      run_type: await runTypeOf(source, run, listing.typeFiles.get(run), state, settings, report),
      subfiles: subfilesOf(source, stable, state),
      complete: growing.length === 0 && settled,
    });
  }
  const outcomes = await addRuns(db, runs);
  for (const { run, outcome } of outcomes) {
    const complete = runs.find((item) => item.run === run)?.complete === true;
    if (outcome !== 'unchanged') report.written.push(`${run} ${outcome} (${complete ? 'complete' : 'being written'})`);
  }
  return report;
}

function warnOnce(state: WatchState, report: PollReport, key: string, line: string): void {
  if (state.warned.has(key)) return;
  state.warned.add(key);
  report.warnings.push(line);
}

async function runTypeOf(
  source: RawSource,
  run: number,
  typeFile: string | undefined,
  state: WatchState,
  settings: WatchSettings,
  report: PollReport,
): Promise<string> {
  const fromFile = typeFile === undefined ? undefined : runTypeIn(await source.readText(typeFile));
  const runType = fromFile ?? settings.patterns.runType;
  if (settings.knownRunTypes !== undefined && !settings.knownRunTypes.has(runType))
    warnOnce(
      state,
      report,
      `type:${run}:${runType}`,
      `run ${run}: run type "${runType}" (from ${typeFile ?? '[processing] run_type'}) names none of the processing information's run types (${[...settings.knownRunTypes].join(', ')}); gasp process will make no jobs for it`,
    );
  return runType;
}

const checksumKey = (file: RawSubfile) => `${file.name}:${file.size}:${file.mtimeMs}`;

/** Reads the adler32 of the files not read before at this size and time, all in one go (one xrdfs session on an SE). */
async function checksumsOf(source: RawSource, files: readonly RawSubfile[], state: WatchState): Promise<void> {
  const unread = files.filter((file) => !state.checksums.has(checksumKey(file)));
  const sums = await source.adler32s(unread.map((file) => file.name));
  for (const file of unread) {
    const sum = sums.get(file.name);
    if (sum !== undefined) state.checksums.set(checksumKey(file), sum);
  }
}

function subfilesOf(source: RawSource, files: readonly RawSubfile[], state: WatchState): RunInput['subfiles'] {
  return [...files]
    .sort((a, b) => a.subfile - b.subfile)
    .map((file) => {
      const checksum = state.checksums.get(checksumKey(file));
      if (checksum === undefined) throw new Error(`${source.urlOf(file.name)}: no adler32 read`);
      return { name: file.name, size: file.size, checksum: `adler32:${checksum}`, url: source.urlOf(file.name) };
    });
}

/** The run types of every processing information in the database; undefined when there is none. */
export async function knownRunTypes(db: Database): Promise<Set<string> | undefined> {
  const found = await db.allDocs<ProcessingInfoDoc>({
    startkey: 'processing_information_',
    endkey: 'processing_information_\ufff0',
    include_docs: true,
  });
  const docs = found.rows.flatMap((row) => (row.doc?.type === 'processing_information' ? [row.doc] : []));
  return docs.length === 0 ? undefined : new Set(docs.flatMap((doc) => Object.keys(doc.run_types)));
}

export interface WatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  log: Logger;
  /** Two polls an interval apart, then stop. */
  once?: boolean;
  now?: () => Date;
}

/** Polls the source every interval until the signal aborts; a failed poll (outage, unreadable folder, SE down) is logged once and retried. */
export async function watchSource(
  db: Database,
  source: RawSource,
  settings: WatchSettings,
  options: WatchOptions,
): Promise<void> {
  const state = newWatchState();
  const log = options.log;
  const folder = source.name;
  let failing: string | undefined;
  let settlingBefore = '';
  for (let poll = 1; !options.signal.aborted; poll++) {
    try {
      const report = await pollSource(db, source, state, settings, options.now?.() ?? new Date());
      if (failing !== undefined) log.info({ folder }, 'polling again');
      failing = undefined;
      for (const line of report.warnings) log.warn(line);
      const settling = report.settling.join(',');
      if (report.written.length > 0 || (settling !== settlingBefore && settling !== ''))
        log.info(
          { folder, written: report.written, settling: report.settling.length, unmatched: report.unmatched },
          `runs: ${report.written.join(', ') || 'none written'}; ${report.settling.length} files waiting to settle`,
        );
      settlingBefore = settling;
    } catch (error) {
      if (options.signal.aborted) break;
      const message = error instanceof Error ? error.message : String(error);
      if (failing !== message) log.warn({ folder }, `poll failed (${message}); trying again every interval`);
      failing = message;
    }
    if (options.once === true && poll >= 2) break;
    await sleep(options.intervalMs, options.signal);
  }
  log.info({ folder }, 'stopped watching');
}
