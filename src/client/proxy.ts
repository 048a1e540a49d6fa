import { proxyAllowsClaims, proxyBlocks, type ProxyStatus } from '../model/coordination.js';
import { jobSeconds, proxyLifetime, renewHint } from '../sites/proxy.js';
import { memoryOf, type ClientContext, type ClientMemory, type ProxyWatch } from './context.js';

/** An hour between checks, warnings below 48 hours: what the config gives when it says nothing. */
export const DEFAULT_PROXY_WATCH: ProxyWatch = { checkMs: 3_600_000, warnHours: 48 };

/** While it claims nothing for its proxy, it looks again at least this often, so a renewal is seen soon. */
const RECHECK_WHILE_STOPPED_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;

const hours = (seconds: number) => Math.round((seconds / 3600) * 100) / 100;

/** Reads the proxy now, as the heartbeat records it. */
async function readProxy(ctx: ClientContext): Promise<ProxyStatus | undefined> {
  const lifetime = await proxyLifetime(ctx.site);
  if (lifetime === undefined) return undefined;
  return {
    kind: lifetime.kind,
    hours_left: lifetime.seconds === null ? null : hours(lifetime.seconds),
    needed_hours: hours(jobSeconds(ctx.site)),
    checked: ctx.now().toISOString(),
    ...(lifetime.problem !== undefined && { problem: lifetime.problem }),
  };
}

/** One line when claims stop or start again for the proxy; a warning (and the hook) at most hourly below warnHours. */
function report(
  ctx: ClientContext,
  watch: ProxyWatch,
  memory: ClientMemory,
  status: ProxyStatus,
  before: ProxyStatus | undefined,
): void {
  const renew = `renew it with ${renewHint(ctx.site, status.kind === 'voms' ? 'voms' : 'dirac')}`;
  const allowed = proxyAllowsClaims(status);
  const wasAllowed = before === undefined || proxyAllowsClaims(before);
  const at = ctx.now().getTime();
  if (!allowed && wasAllowed) {
    ctx.log.error(`site ${ctx.site.name}: ${proxyBlocks(status)}; ${renew}`);
    // an expired or unreadable proxy is told once, here: the hourly warning below is not for it
    if (status.hours_left === null || status.hours_left <= 0) watch.onProxyLow?.(0);
  }
  if (allowed && !wasAllowed)
    ctx.log.info(`site ${ctx.site.name}: its grid proxy has ${status.hours_left} h left: claiming again`);
  // an expired proxy (0 h) would make a new expiry hour, and a new message, every hour
  if (status.hours_left === null || status.hours_left <= 0 || status.hours_left >= watch.warnHours) return;
  if (at - memory.proxyWarnedAt < Math.min(watch.checkMs, HOUR_MS)) return;
  memory.proxyWarnedAt = at;
  ctx.log.warn(
    { hoursLeft: status.hours_left },
    `site ${ctx.site.name}: its grid proxy has ${status.hours_left} h left (warned below ${watch.warnHours} h); ${renew}`,
  );
  watch.onProxyLow?.(status.hours_left);
}

/**
 * Whether the site's grid proxy lets it claim: read at the first cycle and every `checkMs` after
 * (every 5 minutes at most while it claims nothing), never for a site whose jobs need no proxy.
 * Below what one job may run (the site's time limit, sites/proxy.ts jobSeconds), or unreadable, it
 * claims nothing: what it claimed would die with the proxy.
 */
export async function proxyLetsClaim(ctx: ClientContext): Promise<boolean> {
  if (ctx.site.proxy === 'none') return true;
  const watch = ctx.proxy ?? DEFAULT_PROXY_WATCH;
  const memory = memoryOf(ctx);
  const before = memory.proxy;
  const every = proxyAllowsClaims(before) ? watch.checkMs : Math.min(watch.checkMs, RECHECK_WHILE_STOPPED_MS);
  if (before !== undefined && ctx.now().getTime() - memory.proxyCheckedAt < every) return proxyAllowsClaims(before);
  memory.proxyCheckedAt = ctx.now().getTime();
  const status = await readProxy(ctx);
  if (status === undefined) return true;
  memory.proxy = status;
  report(ctx, watch, memory, status, before);
  try {
    await watch.onStatus?.(status);
  } catch (error) {
    ctx.log.warn({ error: (error as Error).message }, 'grid proxy reading not recorded; again at the next reading');
  }
  return proxyAllowsClaims(status);
}
