import { spawn } from 'node:child_process';
import { rootUrl } from '../model/storage-url.js';
import { normalAdler32 } from './adler32.js';
import {
  listedFiles,
  listFiles,
  NOT_FOUND,
  QUERY_TIMEOUT_MS,
  remoteAdler32,
  removeFile,
  said,
  StorageUnavailableError,
  ADLER32_QUERY,
  UNREACHABLE,
  xrdEnv,
  type ListedFile,
} from './xrootd.js';

/**
 * Many paths on one SE through one xrdfs (src/storage/xrootd.ts does one path per xrdfs): what
 * verify and delete --purge-storage need for thousands of files at once.
 */

/** What went wrong with one path of many, where the others went well. */
export interface PathFailed {
  error: string;
}

export const failed = (value: unknown): value is PathFailed =>
  typeof value === 'object' && value !== null && 'error' in value;

/** What one command of a session came to: what it printed, not there, or what went wrong. */
type SessionAnswer = { lines: string[] } | { missing: true } | { error: string };

/** A path xrdfs's interactive mode reads as one word: it splits commands on spaces and reads quotes. */
/** What a command needs after each path: checksums are asked for by type (the server's default may not be adler32). */
const AFTER_PATH: Readonly<Record<string, string>> = { 'query checksum': ADLER32_QUERY };

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
    const child = spawn('xrdfs', [server], { stdio: ['pipe', 'pipe', 'pipe'], env: xrdEnv() });
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
        return reject(
          new StorageUnavailableError(server, `storage element unreachable (${fatal ?? `exit ${code}`})`, true),
        );
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
    child.stdin.end(paths.map((path) => `${verb} ${path}${AFTER_PATH[verb] ?? ''}\n`).join(''));
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
