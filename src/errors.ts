/**
 * Errors a user can act on. Callers branch on the class or `code`, never on message text.
 * The CLI prints `message` as-is (one line per problem) and exits with `exitCode`.
 */
export class GaspError extends Error {
  readonly code: string = 'E_GASP';
  readonly exitCode: number = 1;
}

/** Bad input from a file, an option or a document: every problem, one line each; exit code 2. */
export class InputError extends GaspError {
  override readonly code = 'E_INPUT';
  override readonly exitCode = 2;
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'InputError';
  }
}

/** Something the command needs is not there or not in a usable state (a database, a port). */
export class UnavailableError extends GaspError {
  override readonly code = 'E_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/** The work stopped at a signal (Ctrl-C) at a safe point; what is done stays. Exit code 130, the shell's for SIGINT. */
export class InterruptedError extends GaspError {
  override readonly code = 'E_INTERRUPTED';
  override readonly exitCode = 130;
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}
