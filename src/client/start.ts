import { resolve } from 'node:path';
import { createBackend } from '../backends/create.js';
import type { Config, QueueOrder } from '../config/config.js';
import { ServerClock } from '../db/clock.js';
import { AlreadyRunningError, describeHolder, SiteHeartbeat } from '../coordination/heartbeat.js';
import { Leadership } from '../coordination/leader.js';
import { CLIENT_RETRY } from '../db/backoff.js';
import { couchFromConfig } from '../db/couch.js';
import { UnreachableError } from '../db/errors.js';
import type { Logger } from '../log.js';
import type { HeartbeatDoc } from '../model/coordination.js';
import { GASP_VERSION } from '../paths.js';
import type { Site } from '../sites/site.js';
import type { ClientContext, ProxyWatch } from './context.js';
import { enqueue } from './enqueue.js';
import { refuseBesideOldClients } from '../coordination/old-gasp.js';
import { Notifier } from '../notify/notifier.js';
import { notifyStale, proxyEvent } from '../notify/events.js';
import { receiversOf } from '../notify/receivers.js';

/** How a site's client runs: `gasp enqueue`'s options; what is not given comes from the config file. */
export interface ClientOptions {
  queue?: QueueOrder;
  intervalSeconds?: number;
  /** Run one cycle and stop. */
  once?: boolean;
  /** Claim and submit (false: only monitor). */
  submit: boolean;
  monitor: boolean;
  monitorEvery?: number;
  maxClaim?: number;
  leaseSeconds?: number;
  pausedLabels?: readonly string[];
}

/** What runs a client beside its options. */
export interface ClientRun {
  log: Logger;
  signal: AbortSignal;
  /** Told the hours left when the site's grid proxy runs below `[notify] proxy_warn_hours` (at most hourly). */
  onProxyLow?: (hoursLeft: number) => void;
}

/** The lease a claim gets when `--lease` does not say. */
export const DEFAULT_LEASE_SECONDS = 900;

/**
 * Runs a site's client until `signal`: takes the site (its heartbeat; refuses while another client
 * of it is alive), then the enqueue loop, taking turns with other sites when `[coordination]
 * serialize` says so, and marks the site stopped at the end. Throws AlreadyRunningError when
 * another client took the site over while it ran.
 */
export async function startClient(
  config: Config,
  site: Site,
  options: ClientOptions,
  { log, signal, onProxyLow }: ClientRun,
): Promise<void> {
  const ctx = clientContext(config, site, options, log, signal);
  const { serialize, staleSeconds, conflictDelaySeconds } = config.coordination;
  const clock = new ServerClock(ctx.db.couch);
  const heartbeat = siteHeartbeat(ctx, clock, config, options);
  ctx.proxy = proxyWatch(config, heartbeat, onProxyLow);
  // refuses here, naming the live client, if this site already runs in this mode
  let replaced: HeartbeatDoc | undefined;
  try {
    // never beside GASP's own clients: both would submit the same passes
    await refuseBesideOldClients(ctx.db, clock.now());
    replaced = await heartbeat.start();
  } catch (error) {
    // stopped while waiting for a database that is away: nothing was claimed, so a clean stop
    if (!(signal.aborted && error instanceof UnreachableError)) throw error;
    ctx.log.info('enqueue stopped before it reached the database; it claimed nothing');
    return;
  }
  if (replaced !== undefined)
    ctx.log.warn(
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
    (error) => ctx.log.warn({ error: error.message }, 'heartbeat not written; trying again at the next one'),
  );
  // leases are written and judged in the server's time too, so a site whose clock is off returns no live pass
  ctx.now = () => clock.now();
  const turn =
    serialize && options.submit
      ? new Leadership(ctx.db, clock, { site: site.name, mode: ctx.mode, staleSeconds, conflictDelaySeconds }, ctx.log)
      : undefined;
  ctx.log.info(
    { database: config.couchdb.database, backend: site.backend, queue: ctx.queue, serialize },
    `enqueue started for site ${site.name}`,
  );
  const stopNotifying = startNotifier(ctx, config, clock);
  if (!ctx.backend.runsWrapper) {
    ctx.log.warn('backend dry runs nothing: its jobs end at once with no outputs');
  }
  try {
    await enqueue(ctx, {
      submit: options.submit,
      monitor: options.monitor,
      intervalMs: (options.intervalSeconds ?? config.client.intervalSeconds) * 1000,
      ...(options.once === true && { cycles: 1 }),
      ...(options.once === true && turn !== undefined && { waitTurnMs: onceWaitMs(config, options) }),
      ...(options.monitorEvery !== undefined && { monitorEvery: options.monitorEvery }),
      signal: AbortSignal.any([signal, lost.signal]),
      siteLost: lost.signal,
      ...(options.pausedLabels !== undefined && { pausedLabels: new Set(options.pausedLabels) }),
      ...(turn !== undefined && { turn }),
    });
  } finally {
    await stopNotifying();
    // not ours any more if another client took the site over
    if (taken === undefined)
      await heartbeat
        .stop()
        .catch((error: unknown) =>
          ctx.log.warn(
            { error: (error as Error).message },
            'could not mark the site stopped; its heartbeat will go stale',
          ),
        );
  }
  if (taken !== undefined) throw taken;
  ctx.log.info('enqueue stopped');
}

/**
 * How long a serialized `--once` run waits for its turn: a few cycles, since the lead moves on
 * once per cycle of each site ahead of it; bounded, since cron starts the next run (which a run
 * still waiting would refuse as a second client of the site), and never past the stale window.
 */
const onceWaitMs = (config: Config, options: ClientOptions) =>
  Math.min(5 * (options.intervalSeconds ?? config.client.intervalSeconds), config.coordination.staleSeconds) * 1000;

/** How the client watches the grid proxy: each reading goes on the heartbeat, for gasp why and gasp sites status. */
function proxyWatch(config: Config, heartbeat: SiteHeartbeat, onProxyLow: ClientRun['onProxyLow']): ProxyWatch {
  return {
    checkMs: config.client.proxyCheckSeconds * 1000,
    warnHours: config.notify.proxyWarnHours,
    onStatus: (status) => heartbeat.setProxy(status),
    ...(onProxyLow !== undefined && { onProxyLow }),
  };
}

/** The client's database (retrying through outages until `signal`), backend and settings. */
function clientContext(
  config: Config,
  site: Site,
  options: ClientOptions,
  log: Logger,
  signal: AbortSignal,
): ClientContext {
  return {
    db: couchFromConfig(config.couchdb, { log, retry: CLIENT_RETRY, signal }).use(config.couchdb.database),
    site,
    backend: createBackend(site),
    mode: config.client.mode,
    queue: options.queue ?? config.client.queue,
    maxClaim: options.maxClaim ?? config.client.maxClaim,
    workRoot: resolve(site.local.workdir),
    leaseSeconds: options.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    staleSeconds: config.coordination.staleSeconds,
    log: log.child({ component: 'enqueue', site: site.name, mode: config.client.mode }),
    now: () => new Date(),
    info: new Map(),
  };
}

/**
 * Notifications (`[notify]`), off the cycle's path: the cycle only queues them. Stale sites are
 * looked for every heartbeat. Returns what stops it (sends in hand get a few seconds).
 */
function startNotifier(ctx: ClientContext, config: Config, clock: ServerClock): () => Promise<void> {
  const receivers = receiversOf(config.notify);
  if (receivers.length === 0) return async () => undefined;
  const notifier = new Notifier({
    db: ctx.db,
    log: ctx.log,
    site: ctx.site.name,
    receivers,
    perHour: config.notify.perHour,
    now: () => clock.now(),
  });
  ctx.notifier = notifier;
  // the proxy check warns at most hourly below proxy_warn_hours; each proxy is told once
  const proxy = ctx.proxy;
  const told = proxy?.onProxyLow;
  if (proxy !== undefined)
    proxy.onProxyLow = (hoursLeft) => {
      told?.(hoursLeft);
      notifier.notify(proxyEvent(ctx.site.name, { hoursLeft, warnHours: proxy.warnHours, now: ctx.now() }));
    };
  const { heartbeatSeconds, staleSeconds } = config.coordination;
  const lookForStale = () => notifier.background(() => notifyStale(ctx.db, notifier, clock, staleSeconds));
  const timer = setInterval(lookForStale, heartbeatSeconds * 1000);
  timer.unref();
  lookForStale();
  ctx.log.info(`notifications go to ${receivers.map((receiver) => receiver.name).join(' and ')}`);
  return async () => {
    clearInterval(timer);
    await notifier.stop();
  };
}

function siteHeartbeat(ctx: ClientContext, clock: ServerClock, config: Config, options: ClientOptions): SiteHeartbeat {
  const { serialize, heartbeatSeconds, staleSeconds } = config.coordination;
  return new SiteHeartbeat(ctx.db, clock, {
    site: ctx.site.name,
    mode: ctx.mode,
    version: GASP_VERSION,
    heartbeatSeconds,
    staleSeconds,
    takesTurns: serialize && options.submit,
    // what this site can take, so `gasp why` judges waiting passes by the client's own rules
    capabilities: {
      rat_versions: [...ctx.site.rat.versions.keys()],
      modes: ctx.site.modes,
      max_jobs: ctx.site.maxJobs,
      paused_labels: [...(options.pausedLabels ?? [])],
      claims: options.submit,
    },
  });
}
