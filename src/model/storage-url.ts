import { fileURLToPath } from 'node:url';
/** A root:// URL split into its server and its absolute path on that server. */
export interface RootUrl {
  /** `root://host:port`, what xrdfs takes as its first argument. */
  server: string;
  /** The path on the server, always starting with one `/`. */
  path: string;
}

/**
 * Splits `root://host[:port]//path` (XRootD's form: a double slash starts an absolute path) or
 * `root://host/path`. Throws an Error saying what is missing for a URL without a host or a path.
 */
export function parseRootUrl(url: string): RootUrl {
  const match = /^(root|xroot):\/\/([^/?#\s]+)(\/[^?#\s]*)?$/.exec(url);
  if (match === null || match[2] === undefined) throw new Error('is not root://host:port//path');
  const path = `/${(match[3] ?? '').replace(/^\/+/, '').replace(/\/+$/, '')}`;
  if (path === '/') throw new Error('names no path on the storage element after its host');
  if (path.split('/').some((part) => part === '..' || part === '.')) throw new Error('has . or .. in its path');
  return { server: `${match[1]}://${match[2]}`, path };
}

/** The URL of `path` (absolute) on a server, in XRootD's double-slash form. */
export function rootUrl(server: string, path: string): string {
  return `${server}/${path.startsWith('/') ? path : `/${path}`}`;
}

/** Joins a storage URL and a path below it with single slashes (`a/` + `/b` is `a/b`). */
export function below(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts.map((part) => part.replace(/^\/+|\/+$/g, ''))]
    .filter((part) => part !== '')
    .join('/');
}

/** The storage element a URL is on, for replicas: `root://host:port`, or `file` for a folder here. */
export function seOfUrl(url: string): string {
  if (url.startsWith('file:')) return 'file';
  const match = /^([a-z][\w+.-]*):\/\/([^/]+)/i.exec(url);
  return match === null ? 'unknown' : `${match[1]}://${match[2]}`;
}

/**
 * The file name a raw file's name, path or file:// / root:// URL ends in (a file:// URL decoded,
 * as the file system names it), or undefined for a URL that names no file.
 */
export function fileNameOf(file: string): string | undefined {
  let path = file;
  if (/^file:/i.test(file)) {
    try {
      path = fileURLToPath(file);
    } catch {
      return undefined;
    }
  } else if (/^x?root:\/\//i.test(file)) {
    try {
      path = parseRootUrl(file).path;
    } catch {
      return undefined;
    }
  }
  const name = path.split('/').at(-1);
  return name === undefined || name === '' ? undefined : name;
}
