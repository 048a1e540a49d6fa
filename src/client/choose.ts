import { prerequisiteStatuses } from '../passes/prerequisites.js';
import { readReady } from '../passes/store.js';
import { decide, type Decision, type SiteState } from '../queue/decide.js';
import { passKey, spreadClaims } from '../queue/spread.js';
import { memoryOf, type ClientContext } from './context.js';
import { peerCount, peersOf } from './peers.js';

/**
 * Ready rows read at a time: twice the room, so one read is usually enough even when the head of
 * the queue holds passes this site cannot run; beside N sites, N times the room (its share is
 * about 1/N of what it reads). At most 25 pages of the alone size in all, however many sites.
 */
const pageSize = (room: number, sites = 1) => Math.min(5_000, Math.max(200, 2 * room, room * sites));
const MAX_ROWS = (room: number) => 25 * pageSize(room);

/** Every pass of the page this site could claim were its room endless, in queue order. */
const unlimited = (site: SiteState): SiteState => ({
  ...site,
  running: 0,
  maxJobs: Number.MAX_SAFE_INTEGER,
  maxClaim: Number.MAX_SAFE_INTEGER,
});

/**
 * Reads the ready passes in queue order page by page until the site has seen all it can take or
 * the queue ends: passes this site cannot run at the head never starve it. Alone (or in a queue
 * other than priority) it claims the head; beside other live sites, its own share of it
 * (queue/spread.ts), so sites reading the same head do not fight over the same documents.
 */
export async function chooseClaims(ctx: ClientContext, site: SiteState, share: boolean): Promise<Decision> {
  const room = Math.max(0, Math.min(site.maxJobs - site.running, site.maxClaim));
  const total: Decision = {
    claim: [],
    unsatisfied: [],
    skipped: { ratVersion: 0, paused: 0, prerequisite: 0, noRoom: 0 },
  };
  if (room === 0) return total;
  const peers = share && ctx.queue === 'priority' ? await peersOf(ctx) : undefined;
  const eligible = [];
  // beside other sites its share is about 1/N of what it reads: N times its room, to fill it in one cycle
  const page = pageSize(room, peers === undefined ? 1 : peerCount(ctx));
  for (let index = 0; index * page < MAX_ROWS(room) && eligible.length < room; index++) {
    // read fresh, so a cycle sees every pass submitted before it; claims still check each
    // document's status and _rev, since another site may claim between the read and the write
    const candidates = await readReady(ctx.db, ctx.queue, page, index * page);
    const statuses = await prerequisiteStatuses(
      ctx.db,
      candidates.flatMap((pass) => pass.prerequisites ?? []),
    );
    const decision = decide(candidates, unlimited(site), ctx.queue, statuses);
    eligible.push(...decision.claim);
    total.unsatisfied.push(...decision.unsatisfied);
    for (const reason of ['ratVersion', 'paused', 'prerequisite'] as const)
      total.skipped[reason] += decision.skipped[reason];
    if (candidates.length < page) break;
  }
  const memory = memoryOf(ctx);
  if (peers === undefined || peerCount(ctx) <= 1) {
    total.claim = eligible.slice(0, room);
    memory.left = new Map();
  } else {
    const left = memory.left;
    const spread = spreadClaims({ eligible, room, site: site.name, peers, seen: (key) => left.get(key) ?? 0 });
    memory.left = new Map(spread.left.map((pass) => [passKey(pass), (left.get(passKey(pass)) ?? 0) + 1]));
    total.claim = spread.claim;
  }
  total.skipped.noRoom = eligible.length - total.claim.length;
  return total;
}
