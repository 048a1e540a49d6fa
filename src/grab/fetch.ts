import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { lastLine, runCommand } from '../backends/command.js';
import { Adler32 } from '../storage/adler32.js';
import { copyFile } from '../storage/xrootd.js';

/** What a fetched file's bytes sum to, to compare with what its data document recorded. */
export interface Checksums {
  sha256: string;
  adler32: string;
}

/** A copy of one file that takes longer than this has hung. */
const COPY_TIMEOUT_MS = 6 * 3_600_000;

/** How often a file that xrdcp is writing is looked at, to report its bytes as they arrive. */
const WATCH_MS = 250;

const ROOT_URL = /^x?root:\/\//;

/**
 * sha256 and adler32 of what passes through, in one read, reporting bytes as they come; with
 * `adler32Known` (the copy tool already checked it) adler32 is not summed again.
 */
function summing(
  onBytes: (bytes: number) => void,
  adler32Known?: string,
): { through: Transform; sums: () => Checksums } {
  const sha256 = createHash('sha256');
  const adler32 = adler32Known === undefined ? new Adler32() : undefined;
  const through = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sha256.update(chunk);
      adler32?.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  return {
    through,
    sums: () => ({ sha256: sha256.digest('hex'), adler32: adler32?.digest() ?? adler32Known ?? '' }),
  };
}

/** Both checksums of a file here, in one read (adler32 taken as given when a copy tool checked it). */
export async function checksumsOfFile(path: string, adler32Known?: string): Promise<Checksums> {
  const { through, sums } = summing(() => {}, adler32Known);
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), through, discard);
  return sums();
}

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/**
 * Copies a root:// file with xrdcp. xrdcp reports no bytes as it goes, so the file it writes is
 * watched grow instead; the checksums are taken once it is whole (xrdcp may write chunks out of order).
 * A recorded adler32 is checked by xrdcp as it writes (in C, several times faster than summing it
 * here again), so only sha256 is read here.
 */
async function fetchRoot(
  url: string,
  part: string,
  watchMs: number,
  onBytes: (bytes: number) => void,
  adler32?: string,
): Promise<Checksums> {
  let seen = 0;
  const look = () => {
    const size = sizeOf(part);
    if (size > seen) onBytes(size - seen);
    seen = Math.max(seen, size);
  };
  const watch = setInterval(look, watchMs);
  try {
    await copyFile(url, part, url, { ...(adler32 !== undefined && { adler32 }) });
  } finally {
    clearInterval(watch);
  }
  look();
  return checksumsOfFile(part, adler32 === '' ? undefined : adler32);
}

/** Runs the user's copy command (an argument array with {src} and {dest} filled in). */
async function fetchByCommand(
  url: string,
  part: string,
  copy: readonly string[] | undefined,
  onBytes: (bytes: number) => void,
): Promise<Checksums> {
  if (copy === undefined)
    throw new Error(`no copy command for ${url.split(':')[0]}: URLs (expected --copy 'gfal-copy {src} {dest}')`);
  const argv = copy.map((word) => word.replaceAll('{src}', url).replaceAll('{dest}', part));
  const result = await runCommand(argv, { timeoutMs: COPY_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`${argv[0] ?? 'copy'} exited with ${result.code}: ${lastLine(result.stderr)}`);
  onBytes(existsSync(part) ? statSync(part).size : 0);
  return checksumsOfFile(part);
}

/**
 * Fetches the file at `url` to `part`: file:// and http(s):// by reading it, root:// with xrdcp,
 * anything else with the user's copy command. Returns the checksums of what was written.
 */
export async function fetchTo(
  url: string,
  part: string,
  options: { copy?: readonly string[]; signal?: AbortSignal; watchMs?: number },
  onBytes: (bytes: number) => void,
  recorded: { adler32?: string } = {},
): Promise<Checksums> {
  if (url.startsWith('file:')) {
    const { through, sums } = summing(onBytes);
    await pipeline(createReadStream(fileURLToPath(url)), through, createWriteStream(part));
    return sums();
  }
  if (/^https?:\/\//.test(url)) {
    const response = await fetch(url, { ...(options.signal !== undefined && { signal: options.signal }) });
    if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const { through, sums } = summing(onBytes);
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      through,
      createWriteStream(part),
    );
    return sums();
  }
  if (ROOT_URL.test(url)) return fetchRoot(url, part, options.watchMs ?? WATCH_MS, onBytes, recorded.adler32);
  return fetchByCommand(url, part, options.copy, onBytes);
}
