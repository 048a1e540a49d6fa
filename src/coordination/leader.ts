import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import type { Logger } from '../log.js';
import { LEADER_ID, type LeaderDoc } from '../model/coordination.js';
import type { ServerClock } from '../db/clock.js';
import { siteBeats } from './sites.js';
import { readQuarantines } from '../passes/store.js';

export interface LeaderOptions {
  site: string;
  mode: string;
  staleSeconds: number;
  conflictDelaySeconds: number;
}

/**
 * Serialized submission: one leader document names the one site that may claim and submit now.
 * It is taken by a revision race (a 409 means another site won: wait `conflict_delay`); the leader
 * hands it to the next active site in alphabetical order after each turn; any active site replaces
 * a leader whose heartbeat went stale. Monitoring is never serialized.
 */
export class Leadership {
  #waitUntil = 0;
  /** The revision of the leader document naming this site, as it read or wrote it when its turn began. */
  #held: string | undefined;

  constructor(
    readonly db: Database,
    readonly clock: ServerClock,
    readonly options: LeaderOptions,
    readonly log: Logger,
  ) {}

  /** Sites of this mode that are alive, take turns and are not quarantined, in alphabetical order. */
  async turnTakers(): Promise<string[]> {
    const [beats, quarantines] = await Promise.all([
      siteBeats(this.db, this.clock, this.options.staleSeconds),
      readQuarantines(this.db),
    ]);
    return beats
      .filter(
        (beat) =>
          beat.state === 'active' &&
          beat.doc.mode === this.options.mode &&
          beat.doc.takes_turns &&
          !quarantines.has(beat.doc.site),
      )
      .map((beat) => beat.doc.site)
      .sort();
  }

  /** Whether this site may claim and submit now; takes the lead when nobody holds it or its holder is stale. */
  async myTurn(): Promise<boolean> {
    const leader = await this.db.find<LeaderDoc>(LEADER_ID);
    this.#held = leader?.site === this.options.site ? leader._rev : undefined;
    if (this.#held !== undefined) return true;
    if (Date.now() < this.#waitUntil) return false;
    if (leader !== undefined && (await this.turnTakers()).includes(leader.site)) return false;
    const taken = await this.#write(leader, this.options.site);
    if (taken)
      this.log.info(
        { leader: this.options.site, was: leader?.site },
        leader === undefined
          ? 'leads: nobody held the lead'
          : `leads: took over from ${leader.site}, whose heartbeat is stale`,
      );
    return taken;
  }

  /**
   * Right before a write in this site's turn (its claim, its submission): whether the leader
   * document is still the revision it held when the turn began. A leader paused past the stale
   * window (a stopped VM, SIGSTOP) was replaced meanwhile and resumes mid-cycle, its own clock
   * perhaps not moved: the revision tells it, not the time. A pause between this read and the write
   * is not caught (CouchDB writes no two documents at once); each claim's own `_rev` check still
   * gives every pass to one site.
   */
  async stillMine(): Promise<boolean> {
    const held = this.#held;
    if (held === undefined) return false;
    const leader = await this.db.find<LeaderDoc>(LEADER_ID);
    if (leader?._rev === held) return true;
    this.#held = undefined;
    this.log.warn(
      { leader: leader?.site, term: leader?.term },
      `lost the lead to ${leader?.site ?? 'nobody'} during this turn (paused longer than the stale window?): claims and submits nothing more in it`,
    );
    return false;
  }

  /** After this site's turn: the next active site in alphabetical order leads (itself, if it is alone). */
  async handOver(): Promise<void> {
    const leader = await this.db.find<LeaderDoc>(LEADER_ID);
    if (leader?.site !== this.options.site) return;
    const others = (await this.turnTakers()).filter((site) => site !== this.options.site);
    const next = others.find((site) => site > this.options.site) ?? others[0];
    if (next === undefined) return;
    this.#held = undefined;
    if (await this.#write(leader, next)) this.log.debug({ leader: next }, `handed the lead to ${next}`);
  }

  /** The leader document naming `site`, written over `previous` by its `_rev`: false if another site was first. */
  async #write(previous: LeaderDoc | undefined, site: string): Promise<boolean> {
    // the clock is kept in step by the site's heartbeat, which shares it
    const doc: LeaderDoc = {
      _id: LEADER_ID,
      ...(previous?._rev !== undefined && { _rev: previous._rev }),
      type: 'leader',
      site,
      since: this.clock.now().toISOString(),
      term: (previous?.term ?? 0) + 1,
      by: this.options.site,
    };
    try {
      const { rev } = await this.db.put(doc);
      if (site === this.options.site) this.#held = rev;
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.#waitUntil = Date.now() + this.options.conflictDelaySeconds * 1000;
      this.log.debug({ wait: this.options.conflictDelaySeconds }, 'another site changed the lead first; waiting');
      return false;
    }
  }
}
