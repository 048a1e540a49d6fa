import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import { GaspError } from '../errors.js';
import {
  heartbeatId,
  type HeartbeatDoc,
  type Holder,
  type ProxyStatus,
  type SiteCapabilities,
} from '../model/coordination.js';
import { isAlive } from '../processes.js';
import type { ServerClock } from '../db/clock.js';
import { repeatEvery, type Repeating } from './repeat.js';

/** Another client runs this site in this mode and is alive. */
export class AlreadyRunningError extends GaspError {
  override readonly code = 'E_ALREADY_RUNNING';
  constructor(message: string) {
    super(message);
    this.name = 'AlreadyRunningError';
  }
}

export interface HeartbeatOptions {
  site: string;
  mode: string;
  version: string;
  heartbeatSeconds: number;
  staleSeconds: number;
  /** It takes turns as the leader (serialized submission, and it submits). */
  takesTurns: boolean;
  capabilities?: SiteCapabilities;
}

/** "host vm pid 1234 since …": where a shifter finds the process. */
export const describeHolder = (holder: Holder & { started?: string; taken?: string }) =>
  `host ${holder.host} pid ${holder.pid}${(holder.started ?? holder.taken) ? ` since ${holder.started ?? holder.taken}` : ''}`;

/** A holder on this host whose process is gone (killed, crashed): no need to wait for it to go stale. */
const diedHere = (holder: Holder) => holder.host === hostname() && !isAlive(holder.pid);

/**
 * The site's heartbeat document for one mode, held by one client at a time. Starting takes it (or
 * refuses, naming the live holder); each beat writes it with its `_rev`, so a client whose document
 * another client took over learns it at its next beat and stops: never two clients for one site.
 */
export class SiteHeartbeat {
  readonly instance = randomUUID();
  readonly id: string;
  #doc: HeartbeatDoc | undefined;
  #beats: Repeating | undefined;
  #proxy: ProxyStatus | undefined;
  /** Beats one at a time: the timer's and those a new proxy reading asks for. */
  #writing: Promise<void> = Promise.resolve();

  constructor(
    readonly db: Database,
    readonly clock: ServerClock,
    readonly options: HeartbeatOptions,
  ) {
    this.id = heartbeatId(options.site, options.mode);
  }

  #refusal(holder: HeartbeatDoc): AlreadyRunningError {
    const age = Math.round(this.clock.ageSeconds(holder.beat));
    return new AlreadyRunningError(
      `site ${this.options.site} (${this.options.mode}) is already run by ${describeHolder(holder)} (last heartbeat ${age} s ago); stop that client first, or wait until its heartbeat is older than ${this.options.staleSeconds} s`,
    );
  }

  /**
   * Takes the site for this process; refuses while another client of it is alive (a fresh heartbeat,
   * unless it was written from this host by a process that is gone). Returns the client it replaced.
   */
  async start(): Promise<HeartbeatDoc | undefined> {
    await this.clock.sync();
    const existing = await this.db.find<HeartbeatDoc>(this.id);
    if (
      existing !== undefined &&
      existing.stopped === undefined &&
      this.clock.ageSeconds(existing.beat) < this.options.staleSeconds &&
      !diedHere(existing)
    )
      throw this.#refusal(existing);
    const now = this.clock.now().toISOString();
    const doc: HeartbeatDoc = {
      _id: this.id,
      ...(existing?._rev !== undefined && { _rev: existing._rev }),
      type: 'heartbeat',
      site: this.options.site,
      mode: this.options.mode,
      host: hostname(),
      pid: process.pid,
      instance: this.instance,
      version: this.options.version,
      takes_turns: this.options.takesTurns,
      ...(this.options.capabilities !== undefined && { capabilities: this.options.capabilities }),
      started: now,
      beat: now,
    };
    try {
      this.#doc = { ...doc, _rev: (await this.db.put(doc)).rev };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const winner = await this.db.find<HeartbeatDoc>(this.id);
      throw winner === undefined
        ? new AlreadyRunningError(`site ${this.options.site} (${this.options.mode}) was just taken by another client`)
        : this.#refusal(winner);
    }
    return existing !== undefined && existing.stopped === undefined ? existing : undefined;
  }

  /**
   * Beats every `heartbeat` seconds, on its own timer, so a long cycle or pause never makes a live
   * site look dead. `onLost` hears of another client taking the site; an outage is only logged
   * by the database layer, and the next beat tries again.
   */
  keepBeating(onLost: (error: AlreadyRunningError) => void, onError: (error: Error) => void): void {
    this.#beats = repeatEvery(this.options.heartbeatSeconds * 1000, () =>
      this.beat().then(
        () => true,
        (error: unknown) => {
          if (error instanceof AlreadyRunningError) {
            onLost(error);
            return false;
          }
          onError(error as Error);
          return true;
        },
      ),
    );
  }

  /** Records the site's grid proxy as just read, written with a beat now (and every beat after). */
  async setProxy(proxy: ProxyStatus): Promise<void> {
    this.#proxy = proxy;
    if (this.#doc !== undefined) await this.beat();
  }

  beat(): Promise<void> {
    const next = this.#writing.then(() => this.#beatNow());
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #beatNow(): Promise<void> {
    const current = this.#doc;
    if (current === undefined) throw new Error('heartbeat before start');
    await this.clock.sync();
    const next: HeartbeatDoc = {
      ...current,
      ...(this.#proxy !== undefined && { proxy: this.#proxy }),
      beat: this.clock.now().toISOString(),
    };
    try {
      this.#doc = { ...next, _rev: (await this.db.put(next)).rev };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const taker = await this.db.find<HeartbeatDoc>(this.id);
      // our own write landed on an earlier try (a retry after a lost answer): still ours
      if (taker?.instance === this.instance && taker.stopped === undefined) {
        this.#doc = taker;
        return;
      }
      throw new AlreadyRunningError(
        `site ${this.options.site} (${this.options.mode}) was taken over by ${taker === undefined ? 'another client' : describeHolder(taker)}, which found this client's heartbeat stale; stopping`,
      );
    }
  }

  /** Marks the site stopped, so a restart need not wait for the heartbeat to go stale. */
  async stop(): Promise<void> {
    await this.#beats?.stop();
    const current = this.#doc;
    if (current === undefined) return;
    const now = this.clock.now().toISOString();
    await this.db.put({ ...current, beat: now, stopped: now });
    this.#doc = undefined;
  }
}
