import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import PQueue from 'p-queue';
import type { Replica } from '../model/documents.js';
import { seOfUrl } from '../model/storage-url.js';
import { isAlive } from '../processes.js';
import { StorageUnavailableError } from '../storage/xrootd.js';
import { checksumsOfFile, fetchTo, type Checksums } from './fetch.js';

/**
 * One output file to fetch, as its data document (or a GridTools list) gives it. A checksum that is
 * '' is not known, so not checked; where the file comes from is known when a data document names it.
 */
export interface GrabFile {
  name: string;
  size: number;
  sha256: string;
  adler32: string;
  events: number | null;
  guid?: string;
  data_type?: string;
  module?: string;
  run?: number;
  pass?: number;
  label?: string;
  /** The copies to try, in this order (the preferred SEs first); those known to be gone are left out. */
  replicas: Replica[];
}

/** What a fetched copy of the file is checked by: its size always, its checksums where known. */
export function checksOf(file: Pick<GrabFile, 'sha256' | 'adler32'>): string[] {
  return ['size', ...(file.adler32 === '' ? [] : ['adler32']), ...(file.sha256 === '' ? [] : ['sha256'])];
}

/** A file here and verified, and the copy it came from. */
export interface Grabbed {
  file: GrabFile;
  url: string;
}

export type GrabEvent =
  | { kind: 'fetched'; file: GrabFile; bytes: number; replica: Replica; passedOver: string[] }
  | { kind: 'present'; file: GrabFile }
  | { kind: 'failed'; file: GrabFile; reason: string }
  /** Bytes arrived (negative: a copy that failed its check, taken back). */
  | { kind: 'bytes'; bytes: number };

export interface GrabOptions {
  dir: string;
  parallel: number;
  /** For URLs that are not file://, http(s):// or root://: a command with {src} and {dest}, run as an argument array. */
  copy?: readonly string[];
  onEvent?: (event: GrabEvent) => void;
  signal?: AbortSignal;
  /** How often a file xrdcp is writing is looked at for its bytes, in ms (250). */
  watchMs?: number;
}

export interface GrabResult {
  fetched: Grabbed[];
  present: Grabbed[];
  failed: Array<{ file: GrabFile; reason: string }>;
  bytes: number;
}

/** Files verified in this folder by an earlier grab: an interrupted grab resumes without hashing them again. */
const JOURNAL = '.gasp-grab.jsonl';

interface Verified {
  name: string;
  size: number;
  sha256: string;
  adler32?: string;
  mtimeMs: number;
  /** The copy it came from. */
  url?: string;
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

/** Whether a name is a plain file name: never a path ("../x" would write outside the folder), nor grab's own files. */
export const isPlainFileName = (name: string): boolean =>
  name !== '' &&
  name !== '.' &&
  name !== '..' &&
  basename(name) === name &&
  !name.includes('\\') &&
  !name.startsWith(JOURNAL) &&
  name !== 'catalogue.txt' &&
  name !== 'manifest.json';

/** How a file here differs from what its document recorded, or undefined when it does not; an empty checksum was not recorded. */
function mismatch(file: GrabFile, size: number, sums: Checksums): string | undefined {
  if (size !== file.size) return `size ${size} bytes, expected ${file.size}`;
  if (file.sha256 !== '' && sums.sha256 !== file.sha256)
    return `sha256 ${sums.sha256.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}…`;
  if (file.adler32 !== '' && sums.adler32 !== file.adler32) return `adler32 ${sums.adler32}, expected ${file.adler32}`;
  return undefined;
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

/** One grab's folder, journal and tallies, shared by the files fetched at once. */
class Grab {
  readonly result: GrabResult = { fetched: [], present: [], failed: [], bytes: 0 };
  private readonly verified: Map<string, Verified>;
  /** Storage elements that did not answer (each takes seconds to say so): their other files are not tried. */
  private readonly down = new Map<string, string>();

  constructor(private readonly options: GrabOptions) {
    mkdirSync(options.dir, { recursive: true });
    removeLeftovers(options.dir);
    this.verified = readJournal(options.dir);
  }

  event(happened: GrabEvent): void {
    this.options.onEvent?.(happened);
  }

  private remember(file: GrabFile, path: string, url: string): void {
    const { name, size, sha256, adler32 } = file;
    const entry: Verified = { name, size, sha256, adler32, mtimeMs: statSync(path).mtimeMs, url };
    appendFileSync(join(this.options.dir, JOURNAL), `${JSON.stringify(entry)}\n`);
  }

  fail(file: GrabFile, reason: string): void {
    this.result.failed.push({ file, reason });
    this.event({ kind: 'failed', file, reason });
  }

  /** Whether the file is already here and verified (by the journal, else by reading it). */
  async present(file: GrabFile, path: string): Promise<boolean> {
    if (!existsSync(path) || statSync(path).size !== file.size) return false;
    const known = this.verified.get(file.name);
    const same =
      known !== undefined &&
      known.sha256 === file.sha256 &&
      (known.adler32 ?? '') === file.adler32 &&
      known.size === file.size &&
      known.mtimeMs === statSync(path).mtimeMs;
    if (!same && mismatch(file, file.size, await checksumsOfFile(path)) !== undefined) return false;
    const url = known?.url ?? file.replicas[0]?.url ?? '';
    if (!same) this.remember(file, path, url);
    this.result.present.push({ file, url });
    this.event({ kind: 'present', file });
    return true;
  }

  /** Fetches one copy to `part` and checks it; throws saying what went wrong, with the part file deleted. */
  async fetchCopy(file: GrabFile, replica: Replica, part: string): Promise<number> {
    const server = seOfUrl(replica.url);
    const down = this.down.get(server);
    if (down !== undefined) throw new Error(`${replica.url}: not tried, ${down}`);
    let bytes = 0;
    try {
      const sums = await fetchTo(
        replica.url,
        part,
        this.options,
        (count) => {
          bytes += count;
          this.event({ kind: 'bytes', bytes: count });
        },
        { adler32: file.adler32 },
      );
      const wrong = mismatch(file, statSync(part).size, sums);
      if (wrong !== undefined) throw new Error(`${wrong}: deleted`);
      return bytes;
    } catch (error) {
      rmSync(part, { force: true });
      if (bytes > 0) this.event({ kind: 'bytes', bytes: -bytes });
      if (error instanceof StorageUnavailableError && error.unreachable)
        this.down.set(server, `${server} did not answer earlier in this grab`);
      throw error;
    }
  }

  /** Tries the file's copies in order until one arrives whole; says what happened to each when none does. */
  async fetch(file: GrabFile, path: string): Promise<void> {
    // per process: two grabs into one folder never share a half-written file
    const part = `${path}.${process.pid}.part`;
    const tried: Array<{ se: string; reason: string }> = [];
    for (const replica of file.replicas) {
      if (this.options.signal?.aborted === true) return;
      try {
        const bytes = await this.fetchCopy(file, replica, part);
        renameSync(part, path);
        this.remember(file, path, replica.url);
        this.result.bytes += bytes;
        this.result.fetched.push({ file, url: replica.url });
        const passedOver = tried.map(({ se, reason }) => `${se}: ${reason}`);
        this.event({ kind: 'fetched', file, bytes, replica, passedOver });
        return;
      } catch (error) {
        tried.push({ se: replica.se, reason: (error as Error).message });
      }
    }
    if (tried.length === 0) this.fail(file, 'no copy left to fetch: every replica is marked missing');
    else if (tried.length === 1) this.fail(file, tried[0]?.reason ?? '');
    else this.fail(file, `no copy could be fetched: ${tried.map(({ se, reason }) => `${se}: ${reason}`).join('; ')}`);
  }
}

/**
 * Fetches every file into `dir` from the first of its copies that arrives whole, verifying size,
 * adler32 and sha256 (those recorded); a file that fails its check is deleted, never kept. A file
 * already there and verified (by an earlier grab's journal, or by reading it) is not fetched again;
 * a download is written to `<name>.<pid>.part` and renamed only once verified, so an interrupted
 * grab leaves no half file under the real name.
 */
export async function grabFiles(files: readonly GrabFile[], options: GrabOptions): Promise<GrabResult> {
  const grab = new Grab(options);
  const queue = new PQueue({ concurrency: options.parallel });
  for (const file of files) {
    void queue.add(async () => {
      if (options.signal?.aborted === true) return;
      // a name from a document is never a path: "../x" would write outside the folder
      if (!isPlainFileName(file.name)) return grab.fail(file, 'not a plain file name: not fetched');
      const path = join(options.dir, file.name);
      try {
        if (!(await grab.present(file, path))) await grab.fetch(file, path);
      } catch (error) {
        grab.fail(file, (error as Error).message);
      }
    });
  }
  await queue.onIdle();
  return grab.result;
}
