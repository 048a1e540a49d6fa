import { runArgv } from '../processes.js';
import { BackendError, BackendUnavailableError } from './backend.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  cwd?: string;
  timeoutMs?: number;
  /** The whole environment of the command (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** Runs a batch-system command; tests of HTCondor and DIRAC put recorded answers in its place. */
export type CommandRunner = (argv: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/**
 * Runs a command from an argument array, never through a shell. A command that is not installed is
 * a BackendError naming it; a command that hangs past the timeout is BackendUnavailableError.
 */
export const runCommand: CommandRunner = async (argv, options = {}) => {
  const [program] = argv;
  if (program === undefined) throw new BackendError('no command to run');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { code, stdout, stderr, failed } = await runArgv(argv, { timeoutMs, env: options.env, cwd: options.cwd });
  if (failed === 'command not found')
    throw new BackendError(`${program}: command not found (is it installed and on PATH here?)`);
  if (failed === 'timed out')
    throw new BackendUnavailableError(`${program} did not answer within ${timeoutMs / 1000}s`);
  if (failed !== undefined) throw new BackendUnavailableError(`${program}: ${failed}`);
  return { code, stdout, stderr };
};

/** The last non-empty line of a command's error output, for messages. */
export function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}

/**
 * A batch-system command that exited non-zero, as one line naming the site, the command and the
 * last thing it said. Worth another try (BackendUnavailableError) unless `refused` says the batch
 * system turned the job down for good, which needs a person (BackendError).
 */
export function commandFailure(
  site: string,
  program: string,
  result: CommandResult,
  refused = false,
): BackendUnavailableError | BackendError {
  const said = lastLine(result.stderr) || lastLine(result.stdout) || 'no message';
  const message = `site ${site}: ${program} failed (exit ${result.code}): ${said}`;
  return refused ? new BackendError(message) : new BackendUnavailableError(message);
}
