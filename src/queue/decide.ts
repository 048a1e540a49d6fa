import type { Mode, QueueOrder } from '../config/config.js';
import type { PassRef, ReadyPass } from '../model/documents.js';

export type { ReadyPass };
import { FINAL_STATUSES, type PassStatus } from '../model/status.js';
import { anyLabelIn } from '../model/label.js';

/** A waiting pass as the `passes/ready_*` views give it, plus what only its document says. */
/** What the site is and has now. */
export interface SiteState {
  name: string;
  mode: Mode;
  modes: readonly Mode[];
  ratVersions: ReadonlySet<string>;
  maxJobs: number;
  /** Passes this site holds that are submitted or running. */
  running: number;
  maxClaim: number;
  pausedLabels: ReadonlySet<string>;
}

export interface Decision {
  claim: ReadyPass[];
  /** Passes whose prerequisite failed: they become `unsatisfied`. */
  unsatisfied: Array<{ pass: ReadyPass; because: PassRef }>;
  /** Why the others were left, counted, for the stats line. */
  skipped: Record<'ratVersion' | 'paused' | 'prerequisite' | 'noRoom', number>;
}

/** A prerequisite in one of these will never complete. */
const FAILED: readonly PassStatus[] = FINAL_STATUSES.filter((status) => status !== 'completed');

/** Queue orders: priority, larger first then oldest; runlevel, smallest run first; newfirst, largest run first; serial, oldest first. */
export function compareFor(order: QueueOrder): (a: ReadyPass, b: ReadyPass) => number {
  const tie = (a: ReadyPass, b: ReadyPass) => a.run - b.run || a.module.localeCompare(b.module) || a.pass - b.pass;
  switch (order) {
    case 'priority':
      return (a, b) => b.priority - a.priority || a.created.localeCompare(b.created) || tie(a, b);
    case 'runlevel':
      return (a, b) => a.run - b.run || b.priority - a.priority || tie(a, b);
    case 'newfirst':
      return (a, b) => b.run - a.run || b.priority - a.priority || tie(a, b);
    case 'serial':
      return (a, b) => a.created.localeCompare(b.created) || tie(a, b);
  }
}

/** Why a site does not take a pass, whatever its room: the rules `decide` and `gasp why` share. */
export type Blocker =
  | { kind: 'mode' }
  | { kind: 'ratVersion' }
  | { kind: 'paused' }
  | { kind: 'unsatisfied'; because: PassRef }
  | { kind: 'prerequisite'; waitingFor: PassRef };

export function blocker(
  pass: ReadyPass,
  site: Pick<SiteState, 'mode' | 'modes' | 'ratVersions' | 'pausedLabels'>,
  statusOf: (ref: PassRef) => PassStatus | undefined,
): Blocker | undefined {
  if (!site.modes.includes(site.mode)) return { kind: 'mode' };
  if (!site.ratVersions.has(pass.rat_version)) return { kind: 'ratVersion' };
  if (anyLabelIn(site.pausedLabels, pass.label)) return { kind: 'paused' };
  const failed = pass.prerequisites?.find((ref) => FAILED.includes(statusOf(ref) ?? 'waiting'));
  if (failed !== undefined) return { kind: 'unsatisfied', because: failed };
  const pending = pass.prerequisites?.find((ref) => statusOf(ref) !== 'completed');
  if (pending !== undefined) return { kind: 'prerequisite', waitingFor: pending };
  return undefined;
}

/**
 * Which waiting passes this site claims now, in queue order. Pure: the same inputs give the same
 * answer; `statusOf` says how a prerequisite pass stands.
 */
export function decide(
  candidates: readonly ReadyPass[],
  site: SiteState,
  order: QueueOrder,
  statusOf: (ref: PassRef) => PassStatus | undefined,
): Decision {
  const decision: Decision = {
    claim: [],
    unsatisfied: [],
    skipped: { ratVersion: 0, paused: 0, prerequisite: 0, noRoom: 0 },
  };
  if (!site.modes.includes(site.mode)) {
    decision.skipped.noRoom = candidates.length;
    return decision;
  }
  const room = Math.max(0, Math.min(site.maxJobs - site.running, site.maxClaim));
  for (const pass of [...candidates].sort(compareFor(order))) {
    const blocked = blocker(pass, site, statusOf);
    if (blocked?.kind === 'unsatisfied') {
      decision.unsatisfied.push({ pass, because: blocked.because });
      continue;
    }
    if (blocked !== undefined) {
      decision.skipped[blocked.kind === 'mode' ? 'noRoom' : blocked.kind] += 1;
      continue;
    }
    if (decision.claim.length >= room) {
      decision.skipped.noRoom += 1;
      continue;
    }
    decision.claim.push(pass);
  }
  return decision;
}
