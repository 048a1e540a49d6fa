import { spawn } from 'node:child_process';
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

/** A copy of one file that takes longer than this has hung. */
const COPY_TIMEOUT_MS = 6 * 3_600_000;
const QUERY_TIMEOUT_MS = 120_000;

/** The storage element did not answer, or its tool is missing: one line naming the URL. */
export class StorageUnavailableError extends UnavailableError {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'StorageUnavailableError';
  }
}

interface Answer {
  code: number;
  stdout: string;
  stderr: string;
}

function xrd(argv: readonly string[], url: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    if (program === undefined) return reject(new Error('no command'));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(XRD_SETTINGS)) env[name] ??= value;
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new StorageUnavailableError(url, `${program} did not answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new StorageUnavailableError(
          url,
          error.code === 'ENOENT'
            ? `${program}: command not found (install xrootd-client)`
            : `${program}: ${error.message}`,
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** What xrdfs or xrdcp said last, without its `[ERROR]` prefix. */
function said(answer: Answer): string {
  const line = `${answer.stderr}\n${answer.stdout}`.trim().split('\n').filter(Boolean).at(-1) ?? '';
  return line.replace(/^\s*(Run: )?\[(ERROR|FATAL)\]\s*/, '').trim() || `exit ${answer.code}`;
}

const NOT_FOUND = /\[3011\]|no such file/i;
/** xrdfs and xrdcp exit 51 (and 50, 52) when they cannot reach the server. */
const UNREACHABLE = new Set([50, 51, 52]);

function failure(url: string, answer: Answer, doing: string): Error {
  const reason = said(answer);
  return UNREACHABLE.has(answer.code)
    ? new StorageUnavailableError(url, `storage element unreachable (${reason})`)
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
  const answer = await xrd(['xrdfs', server, 'query', 'checksum', path], url);
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

/** The files of `xrdfs ls -l` lines (folders left out). */
function listedFiles(server: string, lines: readonly string[]): ListedFile[] {
  const files: ListedFile[] = [];
  // -rw-r--r-- owner group SIZE DATE TIME PATH (a path may hold spaces: it is the rest of the line)
  for (const line of lines) {
    const match = /^-\S*\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(\/.*)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    files.push({ url: rootUrl(server, match[2]), path: match[2], size: Number(match[1]) });
  }
  return files;
}

/** Removes a file from the SE; one that is already gone counts as removed. */
export async function removeFile(url: string): Promise<void> {
  const { server, path } = parseRootUrl(url);
  const answer = await xrd(['xrdfs', server, 'rm', path], url);
  if (answer.code !== 0 && !NOT_FOUND.test(answer.stderr)) throw failure(url, answer, 'removing');
}

/**
 * Copies a file with xrdcp (either side may be root:// or a local path); `onProgress` is not given
 * bytes by xrdcp, so callers watch the destination grow when it is local.
 */
export async function copyFile(source: string, destination: string, url = source): Promise<void> {
  const answer = await xrd(['xrdcp', '--force', '--nopbar', source, destination], url, COPY_TIMEOUT_MS);
  if (answer.code !== 0) throw failure(url, answer, 'copy');
}

/** Whether the SE at `server` (`root://host:port`) answers; throws StorageUnavailableError saying why not. */
export async function ping(server: string): Promise<void> {
  const answer = await xrd(['xrdfs', server, 'stat', '/'], server);
  if (answer.code !== 0) throw failure(server, answer, 'stat /');
}

/** What went wrong with one path of many, where the others went well. */
export interface PathFailed {
  error: string;
}

export const failed = (value: unknown): value is PathFailed =>
  typeof value === 'object' && value !== null && 'error' in value;

/** What one command of a session came to: what it printed, not there, or what went wrong. */
type SessionAnswer = { lines: string[] } | { missing: true } | { error: string };

/** A path xrdfs's interactive mode reads as one word: it splits commands on spaces and reads quotes. */
const PLAIN_PATH = /^\/[\w./+=@%,:~-]*$/;
/** The prompt xrdfs prints, followed by the command it read, before each command: `[host:port] / > `. */
const PROMPT = /^\[[^\]\n]*\] \S+ > /;

/** The paths the errors of a session name, each with its first error (xrdfs names the path in each). */
function errorsByPath(stderr: string): Map<string, string> {
  const errors = new Map<string, string>();
  for (const line of stderr.split('\n'))
    for (const word of line.split(/\s+/)) {
      const path = word.replace(/[;:,]+$/, '');
      if (path.startsWith('/') && !errors.has(path)) errors.set(path, line.replace(/^\s*\[ERROR\]\s*/, '').trim());
    }
  return errors;
}

/**
 * Runs `VERB PATH` for many paths on one server through one xrdfs, which reads commands on its
 * standard input (its interactive mode): 10,000 checksums take about 5 s so, where an xrdfs started
 * for each takes about 0.1 s apiece. A command's answer is what it printed up to the next prompt;
 * its errors go to stderr, naming its path. `onAnswer` hears how many commands have been answered.
 */
function xrdfsSession(
  server: string,
  verb: string,
  paths: readonly string[],
  onAnswer: (answered: number) => void,
): Promise<SessionAnswer[]> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(XRD_SETTINGS)) env[name] ??= value;
    const child = spawn('xrdfs', [server], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const blocks: string[][] = [];
    let [partial, stderr] = ['', ''];
    let timer: NodeJS.Timeout | undefined;
    // a long session is fine while answers come: only silence counts
    const watch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new StorageUnavailableError(server, `xrdfs did not answer within ${QUERY_TIMEOUT_MS / 1000}s`));
      }, QUERY_TIMEOUT_MS);
    };
    watch();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      watch();
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!PROMPT.test(line)) blocks.at(-1)?.push(line);
        else if (blocks.push([]) > 1) onAnswer(Math.min(blocks.length - 1, paths.length));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // a process that ends early is reported by its exit, not by the pipe it leaves
    child.stdin.on('error', () => {});
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const missing = error.code === 'ENOENT';
      reject(
        new StorageUnavailableError(
          server,
          missing ? 'xrdfs: command not found (install xrootd-client)' : `xrdfs: ${error.message}`,
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const fatal = /\[FATAL\]\s*(.*)/.exec(stderr)?.[1]?.trim();
      if (fatal !== undefined || UNREACHABLE.has(code ?? 0))
        return reject(new StorageUnavailableError(server, `storage element unreachable (${fatal ?? `exit ${code}`})`));
      if (blocks.length < paths.length)
        return reject(
          new StorageUnavailableError(
            server,
            `xrdfs answered ${blocks.length} of ${paths.length} commands (${said({ code: code ?? 1, stdout: '', stderr })})`,
          ),
        );
      const errors = errorsByPath(stderr);
      resolve(
        paths.map((path, index): SessionAnswer => {
          const error = errors.get(path);
          if (error === undefined) return { lines: blocks[index] ?? [] };
          return NOT_FOUND.test(error) ? { missing: true } : { error };
        }),
      );
    });
    child.stdin.end(paths.map((path) => `${verb} ${path}\n`).join(''));
  });
}

/**
 * A command for many paths on one server: plain paths through one session, others (with spaces or
 * quotes, which the session cannot take) through an xrdfs each.
 */
async function forEachPath<T>(
  server: string,
  verb: string,
  paths: readonly string[],
  read: (answer: SessionAnswer) => T,
  one: (url: string) => Promise<T>,
  onProgress: (done: number) => void = () => {},
): Promise<Map<string, T>> {
  const plain = paths.filter((path) => PLAIN_PATH.test(path));
  const answers = plain.length === 0 ? [] : await xrdfsSession(server, verb, plain, onProgress);
  const results = new Map(plain.map((path, index) => [path, read(answers[index] ?? { lines: [] })]));
  for (const path of paths.filter((path) => !PLAIN_PATH.test(path))) {
    results.set(path, await one(rootUrl(server, path)));
    onProgress(results.size);
  }
  // in the order asked
  return new Map(paths.flatMap((path) => (results.has(path) ? [[path, results.get(path) as T] as const] : [])));
}

/** The files below each of many folders (or the file itself, given a file) on one SE; none where it is not there. */
export function listFolders(server: string, paths: readonly string[]): Promise<Map<string, ListedFile[]>> {
  return forEachPath(
    server,
    'ls -l -R',
    paths,
    (answer) => {
      if ('error' in answer) throw new StorageUnavailableError(server, `listing failed: ${answer.error}`);
      return 'lines' in answer ? listedFiles(server, answer.lines) : [];
    },
    listFiles,
  );
}

/** The SE's adler32 of many files on it, through one session: undefined for a file not there. */
export function remoteAdler32s(
  server: string,
  paths: readonly string[],
  onProgress?: (done: number) => void,
): Promise<Map<string, string | undefined | PathFailed>> {
  return forEachPath(
    server,
    'query checksum',
    paths,
    (answer) => {
      if (!('lines' in answer)) return 'error' in answer ? { error: answer.error } : undefined;
      const value = answer.lines.map((line) => /^adler32\s+([0-9a-fA-Fx]+)/.exec(line)?.[1]).find(Boolean);
      return value === undefined ? { error: 'the SE gave no adler32' } : normalAdler32(value);
    },
    (url) => remoteAdler32(url).catch((error: unknown) => ({ error: (error as Error).message })),
    onProgress,
  );
}

/** Removes many files from one SE through one session; a file already gone counts as removed. */
export function removeFiles(server: string, paths: readonly string[]): Promise<Map<string, PathFailed | undefined>> {
  return forEachPath(
    server,
    'rm',
    paths,
    (answer) => {
      if ('error' in answer) return { error: answer.error };
      const said = 'lines' in answer ? answer.lines.find((line) => line.includes('[ERROR]')) : undefined;
      return said === undefined ? undefined : { error: said.replace(/^.*\[ERROR\]\s*/, '') };
    },
    (url) =>
      removeFile(url).then(
        () => undefined,
        (error: unknown) => ({ error: (error as Error).message }),
      ),
  );
}
