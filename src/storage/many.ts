import { parseRootUrl } from '../model/storage-url.js';
import { failed, listFolders, remoteAdler32s } from './xrdfs-session.js';
import { StorageUnavailableError } from './xrootd.js';

/** What an SE said of a file: its size and adler32, or undefined when it is not there. */
export type RemoteAnswer = { size: number; adler32: string } | undefined;

const folderOf = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';

/**
 * Size and adler32 of many root:// files, asked with two xrdfs sessions per SE (one listing of
 * each folder, one checksum query per file) rather than two processes per file. An SE that does
 * not answer is added to `unreachable`; a file an SE refused is left out, so the caller asks it
 * alone and gets its own answer.
 */
export async function remoteFiles(
  urls: Iterable<string>,
  unreachable: Set<string>,
): Promise<Map<string, RemoteAnswer>> {
  // server -> path -> the URLs naming it, as written (the answers are found by them)
  const byServer = new Map<string, Map<string, string[]>>();
  for (const url of urls) {
    if (!/^x?root:\/\//.test(url)) continue;
    try {
      const { server, path } = parseRootUrl(url);
      const paths = byServer.get(server) ?? new Map<string, string[]>();
      paths.set(path, [...(paths.get(path) ?? []), url]);
      byServer.set(server, paths);
    } catch {
      // a malformed URL gets its own answer from the one-file check
    }
  }
  const known = new Map<string, RemoteAnswer>();
  for (const [server, paths] of byServer) {
    if (unreachable.has(server)) continue;
    try {
      const listed = await listFolders(server, [...new Set([...paths.keys()].map(folderOf))]);
      const sizes = new Map([...listed.values()].flat().map((file) => [file.path, file.size]));
      const sums = await remoteAdler32s(server, [...paths.keys()]);
      for (const [path, named] of paths) {
        const sum = sums.get(path);
        if (failed(sum)) continue;
        const size = sizes.get(path);
        for (const url of named)
          known.set(url, size === undefined || sum === undefined ? undefined : { size, adler32: sum });
      }
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      // a listing refused: each file is asked alone; an SE that did not answer is not asked again this cycle
      if (error.unreachable) unreachable.add(server);
    }
  }
  return known;
}
