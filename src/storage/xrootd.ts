import { BackendUnavailableError } from '../backends/backend.js';
import { runCommand, type CommandResult } from '../backends/command.js';
import { UnavailableError } from '../errors.js';
import { normalAdler32 } from './adler32.js';
import { parseRootUrl, rootUrl } from '../model/storage-url.js';

/**
 * XRootD's client tools (xrdfs, xrdcp from Debian's xrootd-client), always run from argument
 * arrays. Their default connection retries wait 8 minutes on a storage element that is down; these
 * settings make an unreachable SE one prompt answer. A setting already in the environment wins.
 */
export const XRD_SETTINGS: Readonly<Record<string, string>> = {
  XRD_CONNECTIONRETRY: '2',
  XRD_CONNECTIONWINDOW: '10',
  XRD_REQUESTTIMEOUT: '300',
};

/** The environment XRootD's tools run in: ours, with XRD_SETTINGS where it does not set them. */
export function xrdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(XRD_SETTINGS)) env[name] ??= value;
  return env;
}

/** A copy of one file that takes longer than this has hung. */
const COPY_TIMEOUT_MS = 6 * 3_600_000;
export const QUERY_TIMEOUT_MS = 120_000;

/** The storage element did not answer, or its tool is missing: one line naming the URL. */
export class StorageUnavailableError extends UnavailableError {
  constructor(
    readonly url: string,
    reason: string,
    /** The SE itself did not answer (rather than refusing one request): its other files need not be tried. */
    readonly unreachable = false,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'StorageUnavailableError';
  }
}

export type Answer = CommandResult;

async function xrd(argv: readonly string[], url: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<Answer> {
  try {
    return await runCommand(argv, { timeoutMs, env: xrdEnv() });
  } catch (error) {
    // not installed (BackendError) or hung past the timeout (BackendUnavailableError): one line naming the URL
    const missing = !(error instanceof BackendUnavailableError);
    throw new StorageUnavailableError(
      url,
      missing ? `${argv[0] ?? 'xrd'}: command not found (install xrootd-client)` : (error as Error).message,
    );
  }
}

/** What xrdfs or xrdcp said last, without its `[ERROR]` prefix. */
export function said(answer: Answer): string {
  const line = `${answer.stderr}\n${answer.stdout}`.trim().split('\n').filter(Boolean).at(-1) ?? '';
  return line.replace(/^\s*(Run: )?\[(ERROR|FATAL)\]\s*/, '').trim() || `exit ${answer.code}`;
}

export const NOT_FOUND = /\[3011\]|no such file/i;
/**
 * XrdCl exits with 50 + its error code / 100: 51 is a socket or connection error (the SE did not
 * answer); 50 (client side), 52 (login, auth) and the rest are a refusal, not an SE that is gone.
 */
export const UNREACHABLE = new Set([51]);

/** Whether xrdfs or xrdcp could not reach the SE at all (rather than being refused one request). */
export function unreachableAnswer(answer: Answer): boolean {
  return UNREACHABLE.has(answer.code) || /\[FATAL\]/.test(answer.stderr);
}

/** `query checksum PATH` gives the server's default type; this asks for adler32 by name. */
export const ADLER32_QUERY = '?cks.type=adler32';

function failure(url: string, answer: Answer, doing: string): Error {
  const reason = said(answer);
  return unreachableAnswer(answer)
    ? new StorageUnavailableError(url, `storage element unreachable (${reason})`, true)
    : new StorageUnavailableError(url, `${doing} failed: ${reason}`);
}

/** A file's size on the SE, or undefined when it is not there. */
export async function statFile(url: string): Promise<{ size: number } | undefined> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'stat', path], url);
  if (answer.code !== 0) {
    if (NOT_FOUND.test(answer.stderr)) return undefined;
    throw failure(url, answer, 'stat');
  }
  const size = /^Size:\s+(\d+)/m.exec(answer.stdout)?.[1];
  if (size === undefined) throw new StorageUnavailableError(url, 'xrdfs stat gave no size');
  return { size: Number(size) };
}

/** The SE's adler32 of a file (computed by the server), or undefined when it is not there. */
export async function remoteAdler32(url: string): Promise<string | undefined> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'query', 'checksum', `${path}${ADLER32_QUERY}`], url);
  if (answer.code !== 0) {
    if (NOT_FOUND.test(answer.stderr)) return undefined;
    throw failure(url, answer, 'checksum');
  }
  const value = /adler32\s+([0-9a-fA-Fx]+)/.exec(answer.stdout)?.[1];
  if (value === undefined) throw new StorageUnavailableError(url, `the SE gave no adler32 (${said(answer)})`);
  return normalAdler32(value);
}

/** Size and adler32 as the SE sees them, or undefined when the file is not there. */
export async function remoteFile(url: string): Promise<{ size: number; adler32: string } | undefined> {
  const stat = await statFile(url);
  if (stat === undefined) return undefined;
  const adler32 = await remoteAdler32(url);
  return adler32 === undefined ? undefined : { size: stat.size, adler32 };
}

/** One file under a folder on the SE. */
export interface ListedFile {
  url: string;
  /** Its path on the server. */
  path: string;
  size: number;
}

/** A file directly in a folder on the SE, with its time. */
export interface FolderFile extends ListedFile {
  /** Its modification time as xrdfs gives it: whole seconds, UTC. */
  mtimeMs: number;
}

/** Every file below a folder on the SE (recursively); none when the folder is not there. */
export async function listFiles(url: string): Promise<ListedFile[]> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'ls', '-l', '-R', path], url);
  if (answer.code !== 0) {
    if (NOT_FOUND.test(answer.stderr)) return [];
    throw failure(url, answer, 'listing');
  }
  return listedFiles(server, answer.stdout.split('\n'));
}

/** The files directly in a folder on the SE (not below it), with sizes and times; undefined when it is not there. */
export async function listFolder(url: string): Promise<FolderFile[] | undefined> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'ls', '-l', path], url);
  if (answer.code !== 0) {
    if (NOT_FOUND.test(answer.stderr)) return undefined;
    throw failure(url, answer, 'listing');
  }
  return timedFiles(server, answer.stdout.split('\n'));
}

/** The text of a small file on the SE (xrdcp to its standard output), or undefined when it is not there. */
export async function readSmallFile(url: string): Promise<string | undefined> {
  const answer = await xrd(['xrdcp', '--nopbar', url, '-'], url);
  if (answer.code !== 0) {
    if (NOT_FOUND.test(answer.stderr)) return undefined;
    throw failure(url, answer, 'copy');
  }
  return answer.stdout;
}

/** The files of `xrdfs ls -l` lines (folders left out). */
export function listedFiles(server: string, lines: readonly string[]): ListedFile[] {
  return timedFiles(server, lines).map(({ url, path, size }) => ({ url, path, size }));
}

/** The files of `xrdfs ls -l` lines (folders left out), with their times. */
function timedFiles(server: string, lines: readonly string[]): FolderFile[] {
  const files: FolderFile[] = [];
  for (const line of lines) {
    // with the server's extended stat: -rw-r--r-- owner group SIZE DATE TIME PATH; without it: -rw- DATE TIME SIZE PATH
    // (a path may hold spaces: it is the rest of the line)
    const extended = /^-\S*\s+\S+\s+\S+\s+(?<size>\d+)\s+(?<time>\d{4}-\d\d-\d\d\s+\S+)\s+(?<path>\/.*)$/.exec(line);
    const plain = /^-\S*\s+(?<time>\d{4}-\d\d-\d\d\s+\S+)\s+(?<size>\d+)\s+(?<path>\/.*)$/.exec(line);
    const { size, time, path } = (extended ?? plain)?.groups ?? {};
    if (size === undefined || time === undefined || path === undefined) continue;
    // xrdfs prints times in UTC (gmtime), whatever the time zone
    const mtimeMs = Date.parse(`${time.replace(/\s+/, 'T')}Z`);
    files.push({ url: rootUrl(server, path), path, size: Number(size), mtimeMs: Number.isNaN(mtimeMs) ? 0 : mtimeMs });
  }
  return files;
}

/** Removes a file from the SE; one that is already gone counts as removed. */
export async function removeFile(url: string): Promise<void> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'rm', path], url);
  if (answer.code !== 0 && !NOT_FOUND.test(answer.stderr)) throw failure(url, answer, 'removing');
}

/** xrdcp's exit code when the copy's adler32 differs from the one it was given (`--cksum adler32:VALUE`). */
const CHECKSUM_ERROR = 53;

/**
 * Copies a file with xrdcp (either side may be root:// or a local path). Given `adler32`, xrdcp
 * sums the bytes as it writes them (zlib's adler32, in C) and a copy that differs is an Error
 * saying so; the copy is left for the caller to remove.
 */
export async function copyFile(
  source: string,
  destination: string,
  url = source,
  { adler32 }: { adler32?: string } = {},
): Promise<void> {
  const check = adler32 === undefined || adler32 === '' ? [] : ['--cksum', `adler32:${adler32}`];
  const answer = await xrd(['xrdcp', '--force', '--nopbar', ...check, source, destination], url, COPY_TIMEOUT_MS);
  if (answer.code === CHECKSUM_ERROR && check.length > 0)
    throw new Error(`adler32 differs from the recorded ${adler32 ?? ''} (xrdcp's check)`);
  if (answer.code !== 0) throw failure(url, answer, 'copy');
}

/** Whether the SE at `server` (`root://host:port`) answers; throws StorageUnavailableError saying why not. */
export async function ping(server: string): Promise<void> {
  // not `stat /`: an SE that exports only its VO's path refuses it ([3010])
  const answer = await xrd(['xrdfs', server, 'query', 'config', 'version'], server);
  if (answer.code !== 0) throw failure(server, answer, 'query config version');
}
