import type { Command } from 'commander';
import { DEFAULT_LEASE_SECONDS, startClient } from '../client/start.js';
import { QUEUE_ORDERS, type QueueOrder } from '../config/config.js';
import type { Config } from '../config/config.js';
import { probeCouch } from '../db/couch.js';
import { isProblem } from '../doctor/check.js';
import { runDoctor } from '../doctor/doctor.js';
import { InputError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { ENQUEUE_STOP_TIMEOUT_SECONDS, stopOnSignal, stopTimeoutSeconds } from '../signals.js';
import { loadSite, type Site } from '../sites/site.js';
import { configArgs } from './doctor.js';
import { configOption, loadCommandConfig, modeOption, type ConfigOptions } from './context.js';
import { positiveNumber } from './numbers.js';

interface EnqueueCommandOptions extends ConfigOptions {
  queue?: string;
  interval?: string;
  once?: boolean;
  mononly?: boolean;
  nomon?: boolean;
  steps?: string;
  maxClaim?: string;
  lease?: string;
  pause?: string[];
  force?: boolean;
}

/** How long a check at start waits for the database: a client that cannot reach it waits in its loop instead. */
const START_CHECK_TIMEOUT_MS = 5_000;

const positive = (option: string, text: string | undefined, problems: string[]): number | undefined =>
  text === undefined ? undefined : positiveNumber(option, text, problems);

export function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description(
      "the site client: claim ready passes, submit them to the site's backend, monitor them, record their outputs; one stats line per cycle",
    )
    .addOption(configOption())
    .addOption(modeOption())
    .option('--queue <order>', `queue order: ${QUEUE_ORDERS.join(', ')} (default: the config file)`)
    .option('--interval <seconds>', 'pause between cycles (default: the config file)')
    .option(
      '--once',
      'run one cycle and stop (for cron and tests); with [coordination] serialize, it first waits up to 5 intervals for its turn to submit',
    )
    .option('--mononly', 'only monitor what this site runs; claim nothing')
    .option('--nomon', 'only claim and submit; do not monitor')
    .option('--steps <n>', 'monitor every n cycles only')
    .option('--max-claim <n>', 'passes claimed per cycle at most (default: the config file)')
    .option(
      '--lease <seconds>',
      'how long a claim holds without this client renewing it',
      String(DEFAULT_LEASE_SECONDS),
    )
    .option('--pause <label...>', 'leave passes with these labels waiting')
    .option('--force', 'start even when a check at start finds a problem that would make every job fail')
    .addHelpText(
      'after',
      '\nAt start it checks the database, its design documents, the site file, the RAT set-up of each version and the storage (as gasp doctor does) and refuses to start on a problem that would make every job fail, one line each, exit 1; --force starts anyway. A database that does not answer is waited for.\n\nExamples:\n  gasp enqueue -c config/production.cfg\n  gasp enqueue -c config/processing.cfg --queue runlevel --once\n  gasp enqueue -c site.cfg --force    # start although a check at start fails',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<EnqueueCommandOptions>();
      const problems: string[] = [];
      if (options.queue !== undefined && !(QUEUE_ORDERS as readonly string[]).includes(options.queue))
        problems.push(`--queue: "${options.queue}" is not a queue order (expected ${QUEUE_ORDERS.join(' | ')})`);
      if (options.mononly === true && options.nomon === true)
        problems.push('--mononly: does not go with --nomon (expected one of them)');
      const interval = positive('--interval', options.interval, problems);
      const steps = positive('--steps', options.steps, problems);
      const maxClaim = positive('--max-claim', options.maxClaim, problems);
      const lease = positive('--lease', options.lease, problems);
      if (problems.length > 0) throw new InputError(problems);

      const { config, log } = loadCommandConfig(options);
      if (config.notify.sendmailMissing !== undefined) throw new InputError([config.notify.sendmailMissing]);
      const site = loadSite(config.client.siteFile);
      if (!site.modes.includes(config.client.mode)) {
        throw new InputError([
          `${site.file}: modes: site ${site.name} does not run ${config.client.mode} (expected ${config.client.mode} in modes)`,
        ]);
      }
      if (options.force !== true) await refuseOnProblems(config, site, configArgs(options), log);
      const leaseSeconds = lease ?? DEFAULT_LEASE_SECONDS;
      const stop = stopOnSignal({
        log,
        // a cycle in hand may verify large outputs or wait on a slow batch system: it gets longer to finish
        timeoutSeconds: stopTimeoutSeconds(process.env, ENQUEUE_STOP_TIMEOUT_SECONDS),
        left: `the claims of site ${site.name} stay until its next enqueue takes them up or their ${leaseSeconds} s lease ends`,
      });
      try {
        await startClient(
          config,
          site,
          {
            ...(options.queue !== undefined && { queue: options.queue as QueueOrder }),
            ...(interval !== undefined && { intervalSeconds: interval }),
            once: options.once === true,
            submit: options.mononly !== true,
            monitor: options.nomon !== true,
            ...(steps !== undefined && { monitorEvery: steps }),
            ...(maxClaim !== undefined && { maxClaim }),
            leaseSeconds,
            ...(options.pause !== undefined && { pausedLabels: options.pause }),
          },
          { log, signal: stop.signal },
        );
      } finally {
        stop.done();
      }
    });
}

/**
 * The cheap checks of `gasp doctor` (database, design documents, site file, RAT set-up, storage):
 * a problem that would make every job fail stops the start, one line each (exit 1). A database that
 * does not answer now is only logged: the client waits for it.
 */
async function refuseOnProblems(config: Config, site: Site, configArgs: string, log: Logger): Promise<void> {
  const started = Date.now();
  const databases = [probeCouch(config.couchdb, START_CHECK_TIMEOUT_MS).use(config.couchdb.database)];
  const checks = await runDoctor({ config, databases, configArgs }, 'start', site);
  log.debug({ ms: Date.now() - started, checks: checks.length }, 'checks at start done');
  const problems = checks.filter(isProblem);
  for (const check of problems.filter((problem) => problem.transient === true))
    log.warn(`${check.name}: ${check.detail}; enqueue waits for it`);
  const refusals = problems.filter((problem) => problem.transient !== true);
  if (refusals.length > 0)
    throw new UnavailableError(
      refusals
        .map(
          (check) =>
            `enqueue not started: ${check.name}: ${check.detail} (fix: ${check.fix ?? 'see gasp doctor'}; --force starts anyway)`,
        )
        .join('\n'),
    );
}
