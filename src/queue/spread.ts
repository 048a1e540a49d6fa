import type { ReadyPass } from '../model/documents.js';

/**
 * Many sites on one database read the same head of the ready view. Claiming it as it stands, they
 * all write the same documents and every site but the first loses its claim to a conflict. Here
 * each waiting pass has one owner among the live sites that can run it, by a hash of its job's name
 * that every site computes alike, so sites reading the same head claim disjoint passes.
 *
 * The queue's order still holds: priority is a strict order between tiers and only the order of
 * equal-priority passes (oldest first) is loosened. A site claims a pass of a lower priority only
 * when it took every pass of the higher ones it saw, so a higher-priority pass is never left waiting
 * while a lower one is claimed by a site that could run both. A pass whose owner does not take it
 * (full, stopped, paused by hand) is adopted: by the next site in its line after one cycle, by any
 * site after two.
 */
export interface SpreadInput {
  /** What this site could claim now, in queue order. */
  eligible: readonly ReadyPass[];
  room: number;
  site: string;
  /** The live sites that could run this pass, sorted by name; this site among them. */
  peers: (pass: ReadyPass) => readonly string[];
  /** Cycles in a row this site has seen this pass waiting and left it to its owner. */
  seen: (key: string) => number;
}

export interface Spread {
  claim: ReadyPass[];
  /** Passes of a tier this site took part of, left to their owners: remembered for adoption. */
  left: ReadyPass[];
}

export const passKey = (pass: Pick<ReadyPass, 'module' | 'run' | 'pass'>) => `${pass.module}/${pass.run}#${pass.pass}`;

/**
 * FNV-1a, then MurmurHash3's finalizer: the same number at every site whatever its platform, and
 * even shares for names that differ in one character (FNV alone gives lopsided ones there).
 */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193);
  }
  value = Math.imul(value ^ (value >>> 16), 0x85ebca6b);
  value = Math.imul(value ^ (value >>> 13), 0xc2b2ae35);
  return (value ^ (value >>> 16)) >>> 0;
}

/**
 * The sites in the order they own a pass: highest score of (its job document, site) first
 * (rendezvous hashing). A site joining or leaving moves only its own share of the passes, not
 * almost all of them as a hash modulo the number of sites would. Owned by job document: a claim
 * writes the whole document, so two passes of one job never go to two sites.
 */
function ownersInOrder(pass: ReadyPass, peers: readonly string[]): string[] {
  const job = `${pass.module}/${pass.run}`;
  return peers
    .map((site) => ({ site, score: hash(`${job}\n${site}`) }))
    .sort((a, b) => b.score - a.score || a.site.localeCompare(b.site))
    .map(({ site }) => site);
}

/** Whether this site takes the pass now: it owns it, or its owner left it for a cycle (the next in line), or two (any site). */
function takes(pass: ReadyPass, input: SpreadInput): boolean {
  const peers = input.peers(pass);
  if (peers.length <= 1) return true;
  const owners = ownersInOrder(pass, peers);
  if (owners[0] === input.site) return true;
  const seen = input.seen(passKey(pass));
  return seen >= 2 || (seen >= 1 && owners[1] === input.site);
}

/** Which of the eligible passes this site claims: its own share of each priority tier, tier by tier. */
export function spreadClaims(input: SpreadInput): Spread {
  const spread: Spread = { claim: [], left: [] };
  let tier: number | undefined;
  let leftInTier = false;
  for (const pass of input.eligible) {
    if (pass.priority !== tier) {
      // a lower tier only once every pass of the higher one is taken by this site
      if (leftInTier) break;
      tier = pass.priority;
    }
    if (spread.claim.length >= input.room) break;
    if (takes(pass, input)) spread.claim.push(pass);
    else {
      spread.left.push(pass);
      leftInTier = true;
    }
  }
  return spread;
}
