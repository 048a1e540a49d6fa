import { DEFAULT_STALE_SECONDS } from '../config/config.js';
import { siteBeats } from '../coordination/sites.js';
import { anyLabelIn } from '../model/label.js';
import { proxyAllowsClaims, type HeartbeatDoc } from '../model/coordination.js';
import type { ReadyPass } from '../model/documents.js';
import { readQuarantines } from '../passes/store.js';
import { memoryOf, type ClientContext } from './context.js';

/**
 * Sites join and leave over minutes: the live sites are read once a minute, not every cycle. A
 * site that joined since shares passes with the others a minute later; until then it and they may
 * race for a few passes, which the claim's revision check settles.
 */
const PEERS_CHECK_MS = 60_000;

/** The heartbeats of the live sites of this mode that claim: those a waiting pass may be shared with. */
async function claimingSites(ctx: ClientContext): Promise<HeartbeatDoc[]> {
  const now = ctx.now().getTime();
  const [beats, quarantines] = await Promise.all([
    siteBeats(
      ctx.db,
      { ageSeconds: (iso) => (now - Date.parse(iso)) / 1000 },
      ctx.staleSeconds ?? DEFAULT_STALE_SECONDS,
    ),
    readQuarantines(ctx.db),
  ]);
  return beats.flatMap(({ doc, state }) =>
    state === 'active' &&
    doc.mode === ctx.mode &&
    doc.site !== ctx.site.name &&
    doc.capabilities?.claims !== false &&
    proxyAllowsClaims(doc.proxy) &&
    !quarantines.has(doc.site)
      ? [doc]
      : [],
  );
}

/** A function naming the live sites that could run a pass (this one among them, sorted), from a cached read. */
export async function peersOf(ctx: ClientContext): Promise<(pass: ReadyPass) => readonly string[]> {
  const memory = memoryOf(ctx);
  const at = ctx.now().getTime();
  if (at - memory.peersCheckedAt >= PEERS_CHECK_MS) {
    memory.peers = await claimingSites(ctx);
    memory.peersCheckedAt = at;
  }
  const others = memory.peers;
  const byPass = new Map<string, readonly string[]>();
  return (pass) => {
    const key = `${pass.rat_version}\n${JSON.stringify(pass.label)}`;
    let peers = byPass.get(key);
    if (peers === undefined) {
      // a site without capabilities in its heartbeat (an older client) is taken to run everything
      const able = others.filter(
        ({ capabilities }) =>
          capabilities === undefined ||
          (capabilities.rat_versions.includes(pass.rat_version) &&
            !anyLabelIn(new Set(capabilities.paused_labels), pass.label)),
      );
      peers = [...new Set([ctx.site.name, ...able.map((doc) => doc.site)])].sort();
      byPass.set(key, peers);
    }
    return peers;
  };
}

/** How many sites share this site's passes now (1: it is alone, and claims in strict order). */
export const peerCount = (ctx: ClientContext): number => memoryOf(ctx).peers.length + 1;
