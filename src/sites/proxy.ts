import { runArgv, type Ran } from '../processes.js';
import type { ProxyKind, Site } from './site.js';

/**
 * How long a site's grid proxy has left: `voms-proxy-info --timeleft` (VOMS clients 3 print whole
 * seconds, `0` once expired) or `dirac-proxy-info` (a `timeleft     : HH:MM:SS` line, hours past
 * 24 allowed, `00:00:00` once expired), after the site's DIRAC set-up script.
 * Neither tool can be installed here: this is tested against stand-in commands printing output
 * copied from the tools' source and documentation (test/fixtures/recorded/proxy, with its SOURCES.md).
 */

/** What one reading found: seconds left, or null with a one-line problem; an expired proxy has 0 and a problem. */
export interface ProxyLifetime {
  kind: Exclude<ProxyKind, 'none'>;
  seconds: number | null;
  problem?: string;
}

/** How long one reading may take: dirac-proxy-info asks the configuration server first. */
export const PROXY_TIMEOUT_MS = 60_000;

/** What a job may run when the site file names no limit of its backend. */
export const DEFAULT_JOB_SECONDS = 24 * 3600;

/** Seconds of a Slurm time limit: minutes, m:s, h:m:s, d-h, d-h:m or d-h:m:s. */
export function slurmSeconds(time: string): number {
  const dash = time.indexOf('-');
  const days = dash < 0 ? 0 : Number(time.slice(0, dash));
  const parts = time
    .slice(dash + 1)
    .split(':')
    .map(Number);
  // with days: h, h:m or h:m:s; without: m, m:s or h:m:s
  const [h = 0, m = 0, s = 0] = dash >= 0 || parts.length === 3 ? parts : [0, ...parts];
  return days * 86_400 + h * 3600 + m * 60 + s;
}

/**
 * What one job of the site may need of the proxy: its backend's time limit where the site file
 * gives one ([dirac] cpu_time, [slurm] time), otherwise 24 hours. Below it the client claims nothing.
 */
export function jobSeconds(site: Site): number {
  if (site.backend === 'dirac') return site.dirac.cpu_time;
  if (site.backend === 'slurm') return slurmSeconds(site.slurm.time);
  return DEFAULT_JOB_SECONDS;
}

/** The seconds `voms-proxy-info --timeleft` prints (its last line of digits); undefined for anything else. */
export function parseVomsTimeleft(stdout: string): number | undefined {
  const line = stdout
    .trim()
    .split('\n')
    .map((text) => text.trim())
    .filter((text) => /^\d+$/.test(text))
    .at(-1);
  return line === undefined ? undefined : Number(line);
}

/** The seconds of dirac-proxy-info's `timeleft     : HH:MM:SS` line; undefined when there is none. */
export function parseDiracTimeleft(stdout: string): number | undefined {
  const match = /^timeleft\s*:\s*(\d+):(\d{2}):(\d{2})\s*$/m.exec(stdout);
  if (match === null) return undefined;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

/** The command that reads the proxy; DIRAC's after its set-up script, the arguments reaching bash as "$@". */
function proxyCommand(site: Site, kind: ProxyLifetime['kind']): string[] {
  if (kind === 'voms') return ['voms-proxy-info', '--timeleft'];
  const setup = site.dirac.setup;
  return setup === undefined
    ? ['dirac-proxy-info']
    : ['bash', '-c', 'source "$1" && shift && exec "$@"', 'gasp-proxy', setup, 'dirac-proxy-info'];
}

/** How to make a new proxy, for messages. */
export function renewHint(site: Site, kind: ProxyLifetime['kind']): string {
  return kind === 'voms' ? 'voms-proxy-init --voms snoplus.snolab.ca' : `dirac-proxy-init -g ${site.dirac.group}`;
}

const lastLine = (text: string) => text.trim().split('\n').at(-1)?.trim() ?? '';

/** What a reading that gave no time left means, as one line. */
function problemOf(site: Site, kind: ProxyLifetime['kind'], program: string, result: Ran): string {
  const renew = `make one with ${renewHint(site, kind)}`;
  if (result.failed === 'command not found' || result.code === 127)
    return `${program}: command not found (install it${kind === 'dirac' ? ' or set [dirac] setup' : ''}, or set proxy = none in ${site.file})`;
  if (result.failed !== undefined) return `${program} ${result.failed}`;
  const said = lastLine(result.stderr) || lastLine(result.stdout) || 'nothing';
  if (/Proxy not found|Can't find proxy|Can't read proxy/.test(`${result.stdout}\n${result.stderr}`))
    return `no grid proxy: ${program} says "${said}" (${renew})`;
  return `${program} gave no time left (exit ${result.code}): "${said}"`;
}

/** Reads the site's proxy lifetime; undefined for a site that needs none. Never throws. */
export async function proxyLifetime(
  site: Site,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ProxyLifetime | undefined> {
  const kind = site.proxy;
  if (kind === 'none') return undefined;
  const program = kind === 'voms' ? 'voms-proxy-info' : 'dirac-proxy-info';
  const timeoutMs = options.timeoutMs ?? PROXY_TIMEOUT_MS;
  const ran = await runArgv(proxyCommand(site, kind), { timeoutMs, env: options.env });
  const result = ran.failed === 'timed out' ? { ...ran, failed: `did not answer within ${timeoutMs / 1000} s` } : ran;
  const seconds =
    result.failed === undefined && result.code === 0
      ? (kind === 'voms' ? parseVomsTimeleft : parseDiracTimeleft)(result.stdout)
      : undefined;
  if (seconds === undefined) return { kind, seconds: null, problem: problemOf(site, kind, program, result) };
  if (seconds === 0) return { kind, seconds, problem: `the grid proxy has expired (${renewHint(site, kind)})` };
  return { kind, seconds };
}

/** "10.0 h left", or the problem. */
export function describeLifetime(lifetime: ProxyLifetime): string {
  return lifetime.problem ?? `${((lifetime.seconds ?? 0) / 3600).toFixed(1)} h left`;
}
