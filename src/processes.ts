import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Whether a process with this id exists (one we may not signal counts: EPERM). */
export function isAlive(pid: number | undefined): pid is number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's argument list from /proc (Linux); undefined where it cannot be read. */
export function commandLineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** What a command run by runArgv did. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** Why it did not run to its end: not installed, no answer in time, or the system's reason. */
  failed?: 'command not found' | 'timed out' | string;
}

/**
 * Runs an argument array (never a shell line) with a timeout, and never throws: a command that is
 * not installed or hangs says so in `failed` (a hung one is killed).
 */
export function runArgv(
  argv: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv | undefined; cwd?: string | undefined },
): Promise<Ran> {
  return new Promise((resolve) => {
    const [program = '', ...args] = argv;
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 1, stdout, stderr, failed: 'timed out' });
    }, options.timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr, failed: error.code === 'ENOENT' ? 'command not found' : error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
