import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { parseRootUrl, rootUrl } from '../model/storage-url.js';
import { adler32OfFile } from '../storage/adler32.js';
import { failed, remoteAdler32s } from '../storage/xrdfs-session.js';
import { listFolder as listSeFolder, readSmallFile, StorageUnavailableError } from '../storage/xrootd.js';
import { listFolder, type SeenFile } from './raw-folder.js';

/** Where `gasp runs watch` looks for raw files: a folder here, or a folder on an XRootD storage element. */
export interface RawSource {
  /** What the user named: the folder or the root:// URL, for log lines. */
  readonly name: string;
  /** The plain files directly in it, by name; throws when it cannot be read. */
  list(): Promise<SeenFile[]>;
  /** adler32 (8 hex digits) of each named file: read here, or the SE's own; throws when one cannot be had. */
  adler32s(names: readonly string[]): Promise<Map<string, string>>;
  /** A small file's text (a run type file), or undefined when it is not there. */
  readText(name: string): Promise<string | undefined>;
  /** Where jobs read a file: file:// here, root://HOST:PORT//path/NAME on the SE. */
  urlOf(name: string): string;
}

/** A folder on this machine. */
export function folderSource(folder: string): RawSource {
  return {
    name: folder,
    list: () => Promise.resolve(listFolder(folder)),
    async adler32s(names) {
      const sums = new Map<string, string>();
      for (const name of names) sums.set(name, await adler32OfFile(join(folder, name)));
      return sums;
    },
    readText(name) {
      try {
        return Promise.resolve(readFileSync(join(folder, name), 'utf8'));
      } catch {
        return Promise.resolve(undefined);
      }
    },
    urlOf: (name) => pathToFileURL(join(folder, name)).href,
  };
}

/** A folder on an XRootD storage element, `root://HOST:PORT//path`, read with xrdfs and xrdcp. */
export function rootSource(url: string): RawSource {
  const { server, path } = parseRootUrl(url);
  const urlOf = (name: string) => rootUrl(server, `${path}/${name}`);
  return {
    name: url,
    async list() {
      const listed = await listSeFolder(url);
      if (listed === undefined) throw new StorageUnavailableError(url, 'no such folder');
      if (listed.some((file) => file.path === path)) throw new StorageUnavailableError(url, 'is a file, not a folder');
      const files = listed.flatMap((file): SeenFile[] => {
        const name = file.path.slice(path.length + 1);
        return file.path.startsWith(`${path}/`) && !name.includes('/')
          ? [{ name, size: file.size, mtimeMs: file.mtimeMs }]
          : [];
      });
      return files.sort((a, b) => a.name.localeCompare(b.name));
    },
    async adler32s(names) {
      if (names.length === 0) return new Map();
      const answers = await remoteAdler32s(
        server,
        names.map((name) => `${path}/${name}`),
      );
      const sums = new Map<string, string>();
      for (const name of names) {
        const sum = answers.get(`${path}/${name}`);
        if (sum === undefined) throw new StorageUnavailableError(urlOf(name), 'gone before its checksum was read');
        if (failed(sum)) throw new StorageUnavailableError(urlOf(name), `checksum failed: ${sum.error}`);
        sums.set(name, sum);
      }
      return sums;
    },
    readText: (name) => readSmallFile(urlOf(name)),
    urlOf,
  };
}

const EXPECTED = 'expected a readable folder of raw files';

/**
 * The source SOURCE names (a folder, file:///path or root://HOST:PORT//path), readable now: one
 * line of bad input (InputError) naming it otherwise: missing, not a folder, SE down, no xrdfs.
 */
export async function openRawSource(source: string): Promise<RawSource> {
  if (/^x?root:\/\//i.test(source)) {
    let raw: RawSource;
    try {
      raw = rootSource(source);
    } catch (error) {
      throw new InputError([`${source}: ${(error as Error).message} (expected root://HOST:PORT//path of a folder)`]);
    }
    try {
      await raw.list();
    } catch (error) {
      const message = (error as Error).message;
      const reason = message.startsWith(`${source}: `) ? message.slice(source.length + 2) : message;
      throw new InputError([`${source}: cannot read the folder (${reason}) (${EXPECTED} on the storage element)`]);
    }
    return raw;
  }
  if (/^[a-z][\w+.-]*:\/\//i.test(source) && !source.startsWith('file://'))
    throw new InputError([
      `${source}: not a source gasp can watch (expected a local folder, file:// path or root://HOST:PORT//path)`,
    ]);
  const folder = source.startsWith('file://') ? fileURLToPath(source) : source;
  try {
    readdirSync(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError([`${source}: cannot read the folder (${code}) (${EXPECTED})`]);
  }
  return folderSource(folder);
}
