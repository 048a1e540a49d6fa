import type { Backend } from '../backends/backend.js';
import type { Mode, QueueOrder } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notify/notifier.js';
import type { HeartbeatDoc, ProxyStatus } from '../model/coordination.js';
import type { ProcessingInfoDoc, ProductionInfoDoc } from '../model/documents.js';
import type { Site } from '../sites/site.js';

/** Everything a client cycle needs, passed first to each step (tests build their own). */
export interface ClientContext {
  db: Database;
  site: Site;
  backend: Backend;
  mode: Mode;
  queue: QueueOrder;
  maxClaim: number;
  /** Where job folders go (spec.json, logs, outputs, manifest). */
  workRoot: string;
  /** How long a claim holds without renewal; a site that dies frees its passes after this. */
  leaseSeconds: number;
  /**
   * Seconds without a heartbeat after which another site counts as dead (`[coordination] stale`):
   * only a dead site's expired claims are taken back, since only it can ask its backend what it ran.
   */
  staleSeconds?: number;
  log: Logger;
  now: () => Date;
  /** Production and processing information by RAT version, read once. */
  info: Map<string, ProductionInfoDoc | ProcessingInfoDoc>;
  /** Where paused labels, a quarantine and finished labels are told (`[notify]`); off when left out. */
  notifier?: Notifier;
  /** What this client remembers between cycles; starts empty when left out (tests). */
  memory?: ClientMemory;
  /** How it watches the site's grid proxy (sites whose jobs need one); defaults when left out. */
  proxy?: ProxyWatch;
}

/** How a client watches its site's grid proxy. */
export interface ProxyWatch {
  /** Between checks (`[client] proxy_check`, an hour); 0 checks every cycle. */
  checkMs: number;
  /** Below this many hours left it warns, once per check (`[notify] proxy_warn_hours`). */
  warnHours: number;
  /** Told the hours left at each warning (notifications hook here). */
  onProxyLow?: (hoursLeft: number) => void;
  /** Told each reading, for the site's heartbeat (`gasp why`, `gasp sites status`). */
  onStatus?: (status: ProxyStatus) => void | Promise<void>;
}

/** What a client remembers between cycles, on its context rather than in module state. */
export interface ClientMemory {
  /** Malformed documents already named in the log (database/id/rev): once each, not every cycle. */
  reported: Set<string>;
  /** When it last looked for other sites' expired leases (ms). */
  leasesCheckedAt: number;
  /** When it last looked for GASP's enqueue_command documents (ms), and whether they were there. */
  oldClientsCheckedAt: number;
  oldClientsSeen: boolean;
  /** When it last read the grid proxy (ms), and what it found. */
  proxyCheckedAt: number;
  proxy: ProxyStatus | undefined;
  /** When it last warned that the proxy runs low (ms). */
  proxyWarnedAt: number;
  /** When it last read which other sites claim (ms), and their heartbeats. */
  peersCheckedAt: number;
  peers: HeartbeatDoc[];
  /** Waiting passes it left to another site, by key: cycles in a row it saw each still waiting. */
  left: Map<string, number>;
  /** The database's sequence when its last cycle found nothing to do; undefined after a busy one. */
  quietSince: unknown;
}

export const memoryOf = (ctx: ClientContext): ClientMemory =>
  (ctx.memory ??= {
    reported: new Set(),
    leasesCheckedAt: -Infinity,
    oldClientsCheckedAt: -Infinity,
    oldClientsSeen: false,
    proxyCheckedAt: -Infinity,
    proxy: undefined,
    proxyWarnedAt: -Infinity,
    peersCheckedAt: -Infinity,
    peers: [],
    left: new Map(),
    quietSince: undefined,
  });

export interface CycleStats {
  claimed: number;
  submitted: number;
  running: number;
  completed: number;
  failed: number;
  lost: number;
  /** Held passes canceled at a shifter's request. */
  canceled: number;
  /** Failed passes sent back to waiting by their label's policy (a transient error in the log). */
  resubmitted: number;
  ms: number;
  /** Why the site is quarantined: it claimed nothing. */
  quarantined?: string;
  /** Submission is serialized and it was another site's turn. */
  waitingTurn?: boolean;
  /** Why its grid proxy lets it claim nothing. */
  proxy?: string;
  /** Claims lost to another site that wrote the same job first. */
  contended: number;
  /** Nothing changed in the database since its last cycle found nothing to do: it read nothing else. */
  quiet?: boolean;
}

export const emptyStats = (): CycleStats => ({
  claimed: 0,
  submitted: 0,
  running: 0,
  completed: 0,
  failed: 0,
  lost: 0,
  canceled: 0,
  resubmitted: 0,
  ms: 0,
  contended: 0,
});
