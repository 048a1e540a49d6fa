import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sha256OfFile } from '../files.js';
import { adler32OfFile, normalAdler32 } from './adler32.js';
import type { RemoteAnswer } from './many.js';
import { remoteFile, StorageUnavailableError } from './xrootd.js';
import { seOfUrl } from '../model/storage-url.js';

/** What was recorded of a file (by a job's manifest or a data document), to check a stored copy against. */
export interface RecordedFile {
  size: number;
  adler32?: string;
  sha256?: string;
}

export interface CheckOptions {
  /** Who recorded the file, for the answer: `…, the manifest says 42`. */
  recordedBy?: string | undefined;
  /**
   * Storage elements (`root://host:port`) found unreachable by earlier checks of a run: not asked
   * again (each would wait for the connection to time out); one that is not answering is added.
   */
  unreachable?: Set<string> | undefined;
  /** What the SEs already said of these files (storage/many.ts, asked for many at once). */
  known?: ReadonlyMap<string, RemoteAnswer> | undefined;
}

/**
 * What is wrong with the copy of a file at `url`, or undefined when it is there as recorded. A
 * file:// copy is read here: its size and sha256 (adler32 when no sha256 was recorded). A root://
 * copy is checked by the storage element: its size and the adler32 the SE computes. Other URLs (a
 * site's copy command) are taken on their word. Throws StorageUnavailableError when the SE does not
 * answer: then nothing is known, and the caller asks again later.
 */
export async function checkStored(
  url: string,
  recorded: RecordedFile,
  { recordedBy = 'the record', unreachable, known }: CheckOptions = {},
): Promise<string | undefined> {
  if (url.startsWith('file:')) return checkFile(url, recorded, recordedBy);
  if (!/^x?root:\/\//.test(url)) return undefined;
  const se = seOfUrl(url);
  if (unreachable?.has(se) === true)
    throw new StorageUnavailableError(url, 'storage element unreachable (it did not answer earlier in this run)');
  const found =
    known?.has(url) === true
      ? known.get(url)
      : await remoteFile(url).catch((error: unknown) => {
          // a refusal of one file (a permission, no checksum) says nothing of the SE's other files
          if (error instanceof StorageUnavailableError && error.unreachable) unreachable?.add(se);
          throw error;
        });
  if (found === undefined) return `${url} is not in storage`;
  if (found.size !== recorded.size) return `${url} has ${found.size} bytes, ${recordedBy} says ${recorded.size}`;
  if (recorded.adler32 !== undefined && found.adler32 !== normalAdler32(recorded.adler32))
    return `${url} has adler32 ${found.adler32} on the storage element, ${recordedBy} says ${normalAdler32(recorded.adler32)}`;
  return undefined;
}

async function checkFile(url: string, recorded: RecordedFile, recordedBy: string): Promise<string | undefined> {
  const path = fileURLToPath(url);
  const size = await stat(path).then(
    (stats) => stats.size,
    () => undefined,
  );
  if (size === undefined) return `${url} is not in storage`;
  if (size !== recorded.size) return `${url} has ${size} bytes, ${recordedBy} says ${recorded.size}`;
  if (recorded.sha256 !== undefined)
    return (await sha256OfFile(path)) === recorded.sha256
      ? undefined
      : `${url} does not match its sha256 in ${recordedBy}`;
  if (recorded.adler32 !== undefined && (await adler32OfFile(path)) !== normalAdler32(recorded.adler32))
    return `${url} does not match its adler32 in ${recordedBy}`;
  return undefined;
}
