import type { LeaseFields } from './lease.js';

/** Documents sites use to coordinate, kept in the job database of their mode beside the jobs. */

/** Who runs a client or holds a lock: enough for a shifter to find the process. */
export interface Holder {
  site: string;
  host: string;
  pid: number;
  /** Unique per process: tells a restarted client from the one before it on the same host. */
  instance: string;
}

/** One per (site, mode): the client that runs it, written every heartbeat (server time). */
export interface HeartbeatDoc extends Holder {
  _id: string;
  _rev?: string;
  type: 'heartbeat';
  mode: string;
  version: string;
  /** It takes its turn as the leader that submits (serialized submission). */
  takes_turns: boolean;
  /** What the site can take, for `gasp why` to judge waiting passes by the client's own rules. */
  capabilities?: SiteCapabilities;
  started: string;
  beat: string;
  /** Set when the client stopped cleanly: the site is not running, and not stale either. */
  stopped?: string;
  /** Its grid proxy when the client last looked (sites whose jobs need one). */
  proxy?: ProxyStatus;
}

/** A site's grid proxy as its client last read it. */
export interface ProxyStatus {
  kind: string;
  /** Hours left when checked; null: it could not be read. */
  hours_left: number | null;
  /** What one job may run (the site's time limit): below it the site claims nothing. */
  needed_hours: number;
  checked: string;
  /** Why it could not be read, or that it expired. */
  problem?: string;
}

/** Whether a site with this proxy claims: only while the proxy outlives a job. */
export const proxyAllowsClaims = (proxy: ProxyStatus | undefined): boolean =>
  proxy === undefined || (proxy.hours_left !== null && proxy.hours_left >= proxy.needed_hours);

/** Why a site with this proxy claims nothing, as `gasp why` says it. */
export const proxyBlocks = (proxy: ProxyStatus): string =>
  proxy.hours_left === null
    ? `its grid proxy could not be read (${proxy.problem ?? 'no answer'}): it claims nothing until it can`
    : `its grid proxy has ${proxy.hours_left} h left, less than a job may run (${proxy.needed_hours} h): it claims nothing until the proxy is renewed${proxy.problem === undefined ? '' : ` (${proxy.problem})`}`;

export interface SiteCapabilities {
  rat_versions: string[];
  modes: string[];
  max_jobs: number;
  /** Labels this client leaves waiting (`--pause`). */
  paused_labels: string[];
  /** It claims nothing (`--mononly`). */
  claims: boolean;
}

/** The one site that may submit now, where the config serializes submission. */
export interface LeaderDoc {
  _id: typeof LEADER_ID;
  _rev?: string;
  type: 'leader';
  site: string;
  since: string;
  /** Counts hand-overs and take-overs. */
  term: number;
  /** Who wrote it: the site handing over, or the one taking over from a stale leader. */
  by: string;
}

/** A named cross-site lock (`gasp lock-run`): a lease held `stale` seconds past each renewal. */
export interface LockDoc extends LeaseFields {
  _id: string;
  _rev?: string;
  type: 'lock';
  name: string;
  holder: Holder;
  command: string;
}

export const LEADER_ID = 'coordination:leader';
export const HEARTBEAT_PREFIX = 'coordination:heartbeat:';
export const heartbeatId = (site: string, mode: string) => `${HEARTBEAT_PREFIX}${site}:${mode}`;
export const lockId = (name: string) => `coordination:lock:${name}`;
