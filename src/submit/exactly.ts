import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError, UnavailableError } from '../errors.js';
import { readUserFile, writeFileAtomic } from '../files.js';

/** One job of an `.exactly` file: `module<TAB>run<TAB>pass`. */
export interface ExactlyLine {
  module: string;
  run: number;
  pass: number;
}

function compare(a: ExactlyLine, b: ExactlyLine): number {
  return a.module < b.module ? -1 : a.module > b.module ? 1 : a.run - b.run || a.pass - b.pass;
}

/** The file's text: sorted by module, run, pass, each job once. */
export function formatExactly(lines: readonly ExactlyLine[]): string {
  const seen = new Set<string>();
  const text: string[] = [];
  for (const line of [...lines].sort(compare)) {
    const row = `${line.module}\t${line.run}\t${line.pass}`;
    if (seen.has(row)) continue;
    seen.add(row);
    text.push(row);
  }
  return text.length === 0 ? '' : `${text.join('\n')}\n`;
}

/** The one reader of the format; a bad line is an error naming file and line. */
export function parseExactly(text: string, file: string): ExactlyLine[] {
  const lines: ExactlyLine[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((row, index) => {
    if (row.trim() === '' || row.startsWith('#')) return;
    const [module, run, pass, ...rest] = row.split('\t');
    if (
      module === undefined ||
      module === '' ||
      !/^\d+$/.test(run ?? '') ||
      !/^\d+$/.test(pass ?? '') ||
      rest.length > 0
    ) {
      problems.push(`${file}:${index + 1}: ${JSON.stringify(row)} is not a job (expected module<TAB>run<TAB>pass)`);
      return;
    }
    lines.push({ module, run: Number(run), pass: Number(pass) });
  });
  if (problems.length > 0) throw new InputError(problems);
  return lines;
}

export function readExactly(file: string): ExactlyLine[] {
  return parseExactly(readUserFile(file, 'an .exactly file'), file);
}

const LOCK_WAIT_MS = 30_000;
const STALE_LOCK_MS = 300_000;

/** Holds `<file>.lock` (created exclusively) while `work` runs: two submits adding to one file both keep their lines. */
function withFileLock<T>(file: string, work: () => T): T {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline)
        throw new UnavailableError(`${file}: another process holds ${lock}; remove it if none does`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Checks before anything is written that the file can be added to: its folder exists and what it holds reads. */
export function checkExactlyTarget(file: string): void {
  if (!existsSync(dirname(resolve(file))))
    throw new InputError([`${file}: its folder does not exist (expected an .exactly file in an existing folder)`]);
  if (existsSync(file)) readExactly(file);
}

/** Adds jobs to an `.exactly` file (creating it), keeping it sorted and each job once; written whole or not at all. */
export function addToExactly(file: string, lines: readonly ExactlyLine[]): { added: number; total: number } {
  return withFileLock(file, () => {
    const existing = existsSync(file) ? readExactly(file) : [];
    const before = new Set(existing.map((line) => `${line.module}\t${line.run}\t${line.pass}`));
    const text = formatExactly([...existing, ...lines]);
    writeFileAtomic(file, text);
    const total = text === '' ? 0 : text.trimEnd().split('\n').length;
    return { added: total - before.size, total };
  });
}

/** The file a label's jobs go to: `output` when given, else `<dir>/<label>.exactly`. */
export function exactlyFileFor(label: string, where: { output?: string; dir?: string }): string {
  return where.output ?? join(where.dir ?? '.', `${label}.exactly`);
}

/**
 * Adds a submission's jobs to `.exactly` files: all to `output` when given, else one
 * `<label>.exactly` per label in `dir`.
 */
export function addJobsToExactly(
  jobs: ReadonlyArray<ExactlyLine & { label: string }>,
  where: { output?: string; dir?: string } = {},
): Array<{ file: string; added: number; total: number }> {
  const groups = new Map<string, ExactlyLine[]>();
  for (const job of jobs) {
    const file = exactlyFileFor(job.label, where);
    const group = groups.get(file);
    if (group === undefined) groups.set(file, [job]);
    else group.push(job);
  }
  return [...groups].map(([file, lines]) => ({ file, ...addToExactly(file, lines) }));
}
