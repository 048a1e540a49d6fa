import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createBackend } from '../backends/create.js';
import type { ClientContext } from '../client/context.js';
import { enqueue } from '../client/enqueue.js';
import { QUEUE_ORDERS, type QueueOrder } from '../config/config.js';
import { CLIENT_RETRY } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import { UnreachableError } from '../db/errors.js';
import { InputError } from '../errors.js';
import { loadSite } from '../sites/site.js';
import { configOption, loadCommandConfig, modeOption, type ConfigOptions } from './context.js';
import { positiveNumber } from './numbers.js';
import { stopOnSignal } from './serve.js';
import { ServerClock } from '../db/clock.js';
import { AlreadyRunningError, describeHolder, SiteHeartbeat } from '../coordination/heartbeat.js';
import { Leadership } from '../coordination/leader.js';
import type { HeartbeatDoc } from '../model/coordination.js';
import { GASP_VERSION } from '../paths.js';

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
}

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
    .option('--once', 'run one cycle and stop (for cron and tests)')
    .option('--mononly', 'only monitor what this site runs; claim nothing')
    .option('--nomon', 'only claim and submit; do not monitor')
    .option('--steps <n>', 'monitor every n cycles only')
    .option('--max-claim <n>', 'passes claimed per cycle at most (default: the config file)')
    .option('--lease <seconds>', 'how long a claim holds without this client renewing it', '900')
    .option('--pause <label...>', 'leave passes with these labels waiting')
    .addHelpText(
      'after',
      '\nExamples:\n  gasp enqueue -c config/production.cfg\n  gasp enqueue -c config/processing.cfg --queue runlevel --once',
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
      const site = loadSite(config.client.siteFile);
      if (!site.modes.includes(config.client.mode)) {
        throw new InputError([
          `${site.file}: modes: site ${site.name} does not run ${config.client.mode} (expected ${config.client.mode} in modes)`,
        ]);
      }
      const stop = stopOnSignal();
      const clientLog = log.child({ component: 'enqueue', site: site.name, mode: config.client.mode });
      const ctx: ClientContext = {
        db: couchFromConfig(config.couchdb, { log, retry: CLIENT_RETRY, signal: stop.signal }).use(
          config.couchdb.database,
        ),
        site,
        backend: createBackend(site),
        mode: config.client.mode,
        queue: (options.queue as QueueOrder | undefined) ?? config.client.queue,
        maxClaim: maxClaim ?? config.client.maxClaim,
        workRoot: resolve(site.local.workdir),
        leaseSeconds: lease ?? 900,
        staleSeconds: config.coordination.staleSeconds,
        log: clientLog,
        now: () => new Date(),
        info: new Map(),
      };
      const submit = options.mononly !== true;
      const { serialize, heartbeatSeconds, staleSeconds, conflictDelaySeconds } = config.coordination;
      const clock = new ServerClock(ctx.db.couch);
      const heartbeat = new SiteHeartbeat(ctx.db, clock, {
        site: site.name,
        mode: ctx.mode,
        version: GASP_VERSION,
        heartbeatSeconds,
        staleSeconds,
        takesTurns: serialize && submit,
        // what this site can take, so `gasp why` judges waiting passes by the client's own rules
        capabilities: {
          rat_versions: [...site.rat.versions.keys()],
          modes: site.modes,
          max_jobs: site.maxJobs,
          paused_labels: options.pause ?? [],
          claims: submit,
        },
      });
      // refuses here, naming the live client, if this site already runs in this mode
      let replaced: HeartbeatDoc | undefined;
      try {
        replaced = await heartbeat.start();
      } catch (error) {
        // stopped while waiting for a database that is away: nothing was claimed, so a clean stop
        if (!(stop.signal.aborted && error instanceof UnreachableError)) throw error;
        clientLog.info('enqueue stopped before it reached the database; it claimed nothing');
        return;
      }
      if (replaced !== undefined)
        clientLog.warn(
          { host: replaced.host, pid: replaced.pid },
          `took over from a client of this site that died or went stale (${describeHolder(replaced)}, last heartbeat ${Math.round(clock.ageSeconds(replaced.beat))} s ago)`,
        );
      let taken: AlreadyRunningError | undefined;
      const lost = new AbortController();
      heartbeat.keepBeating(
        (error) => {
          taken = error;
          lost.abort();
        },
        (error) => clientLog.warn({ error: error.message }, 'heartbeat not written; trying again at the next one'),
      );
      // leases are written and judged in the server's time too, so a site whose clock is off returns no live pass
      ctx.now = () => clock.now();
      const turn =
        serialize && submit
          ? new Leadership(
              ctx.db,
              clock,
              { site: site.name, mode: ctx.mode, staleSeconds, conflictDelaySeconds },
              clientLog,
            )
          : undefined;
      clientLog.info(
        { database: config.couchdb.database, backend: site.backend, queue: ctx.queue, serialize },
        `enqueue started for site ${site.name}`,
      );
      if (!ctx.backend.runsWrapper) {
        clientLog.warn('backend dry runs nothing: its jobs end at once with no outputs');
      }
      try {
        await enqueue(ctx, {
          submit,
          monitor: options.nomon !== true,
          intervalMs: (interval ?? config.client.intervalSeconds) * 1000,
          ...(options.once === true && { cycles: 1 }),
          ...(steps !== undefined && { monitorEvery: steps }),
          signal: AbortSignal.any([stop.signal, lost.signal]),
          siteLost: lost.signal,
          ...(options.pause !== undefined && { pausedLabels: new Set(options.pause) }),
          ...(turn !== undefined && { turn }),
        });
      } finally {
        // not ours any more if another client took the site over
        if (taken === undefined)
          await heartbeat
            .stop()
            .catch((error: unknown) =>
              clientLog.warn(
                { error: (error as Error).message },
                'could not mark the site stopped; its heartbeat will go stale',
              ),
            );
      }
      if (taken !== undefined) throw taken;
      clientLog.info('enqueue stopped');
    });
}
