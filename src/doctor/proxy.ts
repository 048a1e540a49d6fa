import { describeLifetime, jobSeconds, proxyLifetime, renewHint } from '../sites/proxy.js';
import type { Site } from '../sites/site.js';
import { failed, passed, type Check } from './check.js';

const NAME = 'grid proxy';
const hours = (seconds: number) => `${(seconds / 3600).toFixed(1)} h`;

/**
 * The site's grid proxy against what its jobs need and the warning threshold: below a job's time
 * the client claims nothing, below `[notify] proxy_warn_hours` it warns every hour; both are ✗ here.
 */
export async function checkProxy(site: Site, warnHours: number, env?: NodeJS.ProcessEnv): Promise<Check[]> {
  const lifetime = await proxyLifetime(site, env === undefined ? {} : { env });
  if (lifetime === undefined) return [passed(NAME, `none needed (proxy = none in ${site.file})`)];
  const renew = renewHint(site, lifetime.kind);
  if (lifetime.seconds === null || lifetime.problem !== undefined)
    return [failed(NAME, `${lifetime.kind}: ${describeLifetime(lifetime)}`, renew)];
  const needed = jobSeconds(site);
  if (lifetime.seconds < needed)
    return [
      failed(
        NAME,
        `${lifetime.kind}: ${hours(lifetime.seconds)} left, less than a job may need (${hours(needed)}): gasp enqueue claims nothing`,
        renew,
      ),
    ];
  if (lifetime.seconds < warnHours * 3600)
    return [
      failed(
        NAME,
        `${lifetime.kind}: ${hours(lifetime.seconds)} left, below [notify] proxy_warn_hours (${warnHours} h)`,
        renew,
      ),
    ];
  return [passed(NAME, `${lifetime.kind}: ${hours(lifetime.seconds)} left`)];
}
