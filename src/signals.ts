import { InputError } from './errors.js';
import type { Logger } from './log.js';

/** How long a graceful stop may take before the command stops at once; `GASP_STOP_TIMEOUT` (seconds) changes it. */
export const STOP_TIMEOUT_SECONDS = 30;

/** `gasp enqueue` finishes the cycle in hand, which may verify large outputs or wait on a slow batch system. */
export const ENQUEUE_STOP_TIMEOUT_SECONDS = 300;

/**
 * `npm start` and `npx` pass a Ctrl-C on to the command, which the terminal signals as well: one key
 * press arrives twice within this, and only a signal after it asks for a stop at once.
 */
const REPEAT_MS = 1_000;

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface StopOptions {
  /** Where the one line of a forced stop goes. */
  log: Logger;
  /** What a forced stop leaves behind and how it is picked up, for that line. */
  left?: string;
  /** Seconds a graceful stop may take (default: `GASP_STOP_TIMEOUT`, else 30). */
  timeoutSeconds?: number;
}

export interface SignalStop {
  /** Aborted on the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** Resolves with the first signal. */
  signalled: Promise<NodeJS.Signals>;
  /** What a forced stop does (kill what runs) before it exits. */
  onForce(kill: () => void): void;
  /** The command has stopped: no forced stop after this (a handle left open must not turn a clean stop into exit 130). */
  done(): void;
}

/** The graceful-stop timeout from `GASP_STOP_TIMEOUT`; a value that is not a positive number is bad input. */
export function stopTimeoutSeconds(env: NodeJS.ProcessEnv = process.env, fallback = STOP_TIMEOUT_SECONDS): number {
  const text = env.GASP_STOP_TIMEOUT;
  if (text === undefined || text === '') return fallback;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new InputError([`GASP_STOP_TIMEOUT: "${text}" is not a number of seconds (expected a positive number)`]);
  return seconds;
}

/**
 * Signal handling for a command that runs until stopped, installed before anything starts so a
 * signal during start-up still stops cleanly. The first SIGINT or SIGTERM asks for a graceful stop
 * (stop taking work, finish what is in hand, release what is held). A second one, or a graceful
 * stop still going after the timeout, stops at once: one log line saying what is left, and exit
 * 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports a killed command.
 */
export function stopOnSignal(options: StopOptions): SignalStop {
  const timeoutSeconds = options.timeoutSeconds ?? stopTimeoutSeconds();
  const controller = new AbortController();
  let kill = () => {};
  let timer: NodeJS.Timeout | undefined;
  const listeners: Array<(signal: NodeJS.Signals) => void> = [];
  const listen = (listener: (signal: NodeJS.Signals) => void) => {
    listeners.push(listener);
    for (const name of SIGNALS) process.on(name, listener);
  };
  const done = () => {
    clearTimeout(timer);
    for (const listener of listeners.splice(0)) for (const name of SIGNALS) process.removeListener(name, listener);
  };
  const forceExit = (signal: NodeJS.Signals, why: string): void => {
    kill();
    options.log.error({ signal }, `${why}: stopped at once${options.left === undefined ? '' : `; ${options.left}`}`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    const onFirst = (signal: NodeJS.Signals) => {
      const since = Date.now();
      const onAgain = (again: NodeJS.Signals) => {
        if (Date.now() - since >= REPEAT_MS) forceExit(again, `${again} while stopping`);
      };
      for (const name of SIGNALS) process.removeListener(name, onFirst);
      listen(onAgain);
      // unref: a stop that ends in time exits without waiting for it
      timer = setTimeout(
        () => forceExit(signal, `the graceful stop took longer than ${timeoutSeconds} s`),
        timeoutSeconds * 1000,
      ).unref();
      controller.abort();
      resolve(signal);
    };
    listen(onFirst);
  });
  return { signal: controller.signal, signalled, onForce: (action) => (kill = action), done };
}
