import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { ServerClock } from '../db/clock.js';
import { describeHolder } from '../coordination/heartbeat.js';
import { NamedLock } from '../coordination/lock.js';
import { sleep } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import { GaspError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadSite } from '../sites/site.js';
import { configOption, loadCommandConfig, modeOption, type ConfigOptions } from './context.js';
import { positiveNumber } from './numbers.js';

/** Exit code when another site holds the lock (EX_TEMPFAIL: try again later). */
export const LOCK_HELD = 75;

class LockHeldError extends GaspError {
  override readonly code = 'E_LOCK_HELD';
  override readonly exitCode = LOCK_HELD;
}

interface LockRunOptions extends ConfigOptions {
  name?: string;
  wait?: string;
}

const LOCK_NAME = /^[\w.-]{1,100}$/;

/** A command line as messages and the lock document show it: its first 100 characters. */
const shorten = (line: string) => (line.length > 100 ? `${line.slice(0, 99)}…` : line);

/** Runs the command (an argument array, no shell) with the terminal's streams; signals pass through. Resolves to its exit code. */
function runCommand(argv: readonly string[], log: Logger): Promise<number> {
  return new Promise((resolve) => {
    const [program, ...args] = argv as [string, ...string[]];
    const child = spawn(program, args, { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (code: number) => {
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      resolve(code);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      log.error(`${program}: ${error.code === 'ENOENT' ? 'command not found' : error.message}`);
      done(127);
    });
    // killed by a signal: 128 + its number, as a shell says it
    child.once('exit', (code, signal) => done(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}

/** Takes the lock, waiting up to `wait` seconds; refuses (exit 75) while another site holds it. */
async function takeLock(
  lock: NamedLock,
  clock: ServerClock,
  { name, wait, argv, log }: { name: string; wait: number; argv: string[]; log: Logger },
): Promise<void> {
  const deadline = Date.now() + wait * 1000;
  let attempt = await lock.tryTake();
  while (!attempt.taken && Date.now() < deadline) {
    await sleep(Math.min(1_000, Math.max(200, deadline - Date.now())));
    attempt = await lock.tryTake();
  }
  if (!attempt.taken) {
    const { holder, taken } = attempt.holder;
    throw new LockHeldError(
      `lock ${name} is held by site ${holder.site} (${describeHolder({ ...holder, taken })}, running: ${attempt.holder.command}); not running ${shorten(argv.join(' '))}`,
    );
  }
  if (attempt.replaced !== undefined) {
    const why =
      attempt.why === 'dead'
        ? 'whose process is gone'
        : `which stopped renewing it ${Math.round(clock.ageSeconds(attempt.replaced.renewed))} s ago`;
    log.warn(
      `took over lock ${name} from site ${attempt.replaced.holder.site} (${describeHolder(attempt.replaced.holder)}), ${why}`,
    );
  }
}

export function registerLockRun(program: Command): void {
  program
    .command('lock-run')
    .description(
      'run a command while holding a named lock shared by every site on the database: one site at a time runs it (for cron jobs)',
    )
    .addOption(configOption())
    .addOption(modeOption())
    .option('--name <name>', "the lock's name (default: the command's file name)")
    .option(
      '--wait <seconds>',
      'wait this long for the lock when another site holds it (default: do not wait; exit 75)',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    .addHelpText(
      'after',
      `
The lock is renewed while the command runs and released when it ends; a holder that stopped
renewing for [coordination] stale seconds is replaced. The command's exit code is gasp's; 75 means
another site holds the lock and the command did not run.

Example:
  gasp lock-run -c config/processing.cfg --name nightly-runs -- ./process-new-runs.sh --since yesterday`,
    )
    .action(async (argv: string[], _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<LockRunOptions>();
      const problems: string[] = [];
      const name = options.name ?? basename(argv[0] ?? '');
      if (!LOCK_NAME.test(name))
        problems.push(`--name: "${name}" is not a lock name (expected letters, digits, _ . - and at most 100 of them)`);
      const wait = options.wait === undefined ? 0 : positiveNumber('--wait', options.wait, problems);
      if (problems.length > 0) throw new InputError(problems);

      const { config, log } = loadCommandConfig(options);
      const lockLog = log.child({ component: 'lock-run', lock: name });
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const clock = new ServerClock(db.couch);
      const { staleSeconds } = config.coordination;
      const site = loadSite(config.client.siteFile).name;
      const lock = new NamedLock(db, clock, name, { site, staleSeconds, command: shorten(argv.join(' ')) });
      await takeLock(lock, clock, { name, wait: wait ?? 0, argv, log: lockLog });
      process.exitCode = await runHolding(lock, argv, { name, staleSeconds, log: lockLog });
    });
}

/**
 * Runs the command under the lock just taken, renewing it, and releases it after; resolves to the
 * command's exit code. Refuses (exit 75) if the lock was taken over before the command started.
 */
export async function runHolding(
  lock: NamedLock,
  argv: string[],
  { name, staleSeconds, log }: { name: string; staleSeconds: number; log: Logger },
): Promise<number> {
  // a pause (a stopped VM) after the take may outlast the lock: another site may run the command now
  if (!(await lock.stillHeld()))
    throw new LockHeldError(
      `lock ${name} was taken over by another site before the command started (this process was held up for more than ${staleSeconds} s, such as a paused VM); not running ${shorten(argv.join(' '))}`,
    );
  log.info(`holding lock ${name}; running ${argv.join(' ')}`);
  // renewed three times per stale window, so one missed renewal (an outage) never loses it
  lock.keepRenewing(
    (staleSeconds * 1000) / 3,
    () => log.error(`lock ${name} was taken over by another site, which found it stale, while the command runs`),
    (error) => log.warn({ error: error.message }, `could not renew lock ${name}; trying again`),
  );
  try {
    return await runCommand(argv, log);
  } finally {
    await lock
      .release()
      .catch((error: unknown) =>
        log.warn(
          { error: (error as Error).message },
          `could not release lock ${name}; it frees itself after ${staleSeconds} s`,
        ),
      );
  }
}
