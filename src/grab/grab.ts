import { createHash } from 'node:crypto';
import {
  appendFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { lastLine, runCommand } from '../backends/command.js';
import { sha256OfFile } from '../files.js';
import { isAlive } from '../processes.js';

/** One output file to fetch, as its data document lists it. */
export interface GrabFile {
  name: string;
  url: string;
  size: number;
  sha256: string;
  events: number | null;
  data_type: string;
  module: string;
  run: number;
  pass: number;
  label: string;
}

export type GrabEvent =
  | { kind: 'fetched'; file: GrabFile; bytes: number }
  | { kind: 'present'; file: GrabFile }
  | { kind: 'failed'; file: GrabFile; reason: string }
  | { kind: 'bytes'; bytes: number };

export interface GrabOptions {
  dir: string;
  parallel: number;
  /** For URLs that are neither file:// nor http(s)://: a command with {src} and {dest}, run as an argument array. */
  copy?: readonly string[];
  onEvent?: (event: GrabEvent) => void;
  signal?: AbortSignal;
}

export interface GrabResult {
  fetched: GrabFile[];
  present: GrabFile[];
  failed: Array<{ file: GrabFile; reason: string }>;
  bytes: number;
}

/** A copy of one file that takes longer than this has hung. */
const COPY_TIMEOUT_MS = 6 * 3_600_000;

/** Files verified in this folder by an earlier grab: an interrupted grab resumes without hashing them again. */
const JOURNAL = '.gasp-grab.jsonl';

interface Verified {
  name: string;
  size: number;
  sha256: string;
  mtimeMs: number;
}

function readJournal(dir: string): Map<string, Verified> {
  const file = join(dir, JOURNAL);
  if (!existsSync(file)) return new Map();
  const entries = new Map<string, Verified>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line) as Verified;
      if (typeof entry.name === 'string') entries.set(entry.name, entry);
    } catch {
      // a line cut short by an interruption: that file is hashed again
    }
  }
  return entries;
}

const safeName = (name: string) =>
  name !== '' &&
  name !== '.' &&
  name !== '..' &&
  basename(name) === name &&
  !name.includes('\\') &&
  !name.startsWith(JOURNAL) &&
  name !== 'catalogue.txt' &&
  name !== 'manifest.json';

/** Counts and hashes what passes through, reporting bytes as they come. */
function hashing(hash: ReturnType<typeof createHash>, onBytes: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/** Fetches one file to `part`; returns its sha256 (of what was written). */
async function fetchTo(
  file: GrabFile,
  part: string,
  options: GrabOptions,
  onBytes: (bytes: number) => void,
): Promise<string> {
  const hash = createHash('sha256');
  if (file.url.startsWith('file:')) {
    await pipeline(createReadStream(fileURLToPath(file.url)), hashing(hash, onBytes), createWriteStream(part));
    return hash.digest('hex');
  }
  if (/^https?:\/\//.test(file.url)) {
    const response = await fetch(file.url, { ...(options.signal !== undefined && { signal: options.signal }) });
    if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      hashing(hash, onBytes),
      createWriteStream(part),
    );
    return hash.digest('hex');
  }
  if (options.copy === undefined)
    throw new Error(`no copy command for ${file.url.split(':')[0]}: URLs (expected --copy 'xrdcp {src} {dest}')`);
  const argv = options.copy.map((word) => word.replaceAll('{src}', file.url).replaceAll('{dest}', part));
  const result = await runCommand(argv, { timeoutMs: COPY_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`${argv[0] ?? 'copy'} exited with ${result.code}: ${lastLine(result.stderr)}`);
  onBytes(existsSync(part) ? statSync(part).size : 0);
  return sha256OfFile(part);
}

/** Half-written files of grabs that were interrupted (their process is gone). */
function removeLeftovers(dir: string): void {
  for (const name of readdirSync(dir)) {
    const match = /(?:\.(\d+))?\.part$/.exec(name);
    if (match === null) continue;
    const pid = match[1] === undefined ? undefined : Number(match[1]);
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
  }
}

/**
 * Fetches every file into `dir`, verifying size and sha256; a file that fails its check is deleted
 * and reported, never kept. A file already there and verified (by an earlier grab's journal, or by
 * hashing it) is not fetched again; a download is written to `<name>.part` and renamed only once
 * verified, so an interrupted grab leaves no half file under the real name.
 */
export async function grabFiles(files: readonly GrabFile[], options: GrabOptions): Promise<GrabResult> {
  mkdirSync(options.dir, { recursive: true });
  removeLeftovers(options.dir);
  const verified = readJournal(options.dir);
  const result: GrabResult = { fetched: [], present: [], failed: [], bytes: 0 };
  const event = (happened: GrabEvent) => options.onEvent?.(happened);
  const remember = (file: GrabFile, path: string) =>
    appendFileSync(
      join(options.dir, JOURNAL),
      `${JSON.stringify({ name: file.name, size: file.size, sha256: file.sha256, mtimeMs: statSync(path).mtimeMs } satisfies Verified)}\n`,
    );
  const queue = new PQueue({ concurrency: options.parallel });
  for (const file of files) {
    void queue.add(async () => {
      if (options.signal?.aborted === true) return;
      // a name from a document is never a path: "../x" would write outside the folder
      if (!safeName(file.name)) {
        result.failed.push({ file, reason: 'not a plain file name: not fetched' });
        event({ kind: 'failed', file, reason: 'not a plain file name: not fetched' });
        return;
      }
      const path = join(options.dir, file.name);
      try {
        if (existsSync(path) && statSync(path).size === file.size) {
          const known = verified.get(file.name);
          const same =
            known !== undefined &&
            known.sha256 === file.sha256 &&
            known.size === file.size &&
            known.mtimeMs === statSync(path).mtimeMs;
          if (same || (await sha256OfFile(path)) === file.sha256) {
            if (!same) remember(file, path);
            result.present.push(file);
            event({ kind: 'present', file });
            return;
          }
        }
        // per process: two grabs into one folder never share a half-written file
        const part = `${path}.${process.pid}.part`;
        let bytes = 0;
        const sha256 = await fetchTo(file, part, options, (count) => {
          bytes += count;
          event({ kind: 'bytes', bytes: count });
        });
        const size = statSync(part).size;
        if (size !== file.size || sha256 !== file.sha256) {
          rmSync(part, { force: true });
          const what =
            size !== file.size
              ? `size ${size} bytes, expected ${file.size}`
              : `sha256 ${sha256.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}…`;
          throw new Error(`${what}: deleted`);
        }
        renameSync(part, path);
        remember(file, path);
        result.bytes += bytes;
        result.fetched.push(file);
        event({ kind: 'fetched', file, bytes });
      } catch (error) {
        rmSync(`${path}.${process.pid}.part`, { force: true });
        const reason = (error as Error).message;
        result.failed.push({ file, reason });
        event({ kind: 'failed', file, reason });
      }
    });
  }
  await queue.onIdle();
  return result;
}
