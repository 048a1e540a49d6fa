import { backoffDelay, sleep, type RetryPolicy } from '../db/backoff.js';
import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import type { Logger } from '../log.js';
import { notifyId, type Delivery, type NotifyDoc, type NotifyEvent } from '../model/notify.js';
import { messageOf, type Message, type Receiver } from './receivers.js';

/** A failing receiver is tried this often, the waits doubling from 5 s to 5 minutes (5 to 10 minutes in all). */
export const NOTIFY_RETRY: RetryPolicy = { attempts: 8, baseMs: 5_000, maxMs: 300_000 };

const HOUR_MS = 3_600_000;

export interface NotifierOptions {
  db: Database;
  log: Logger;
  /** The site that sends: named in the notify documents. */
  site: string;
  receivers: readonly Receiver[];
  /** Messages a receiver takes in `windowMs` (an hour); the rest are summed up in one later message. */
  perHour: number;
  retry?: RetryPolicy;
  windowMs?: number;
  now?: () => Date;
}

/** One message to one receiver, and the notify documents it reports on. */
interface Item {
  ids: string[];
  message: Message;
  summary: boolean;
}

/** A receiver's own queue: a slow or dead one holds up only itself. */
interface Lane {
  receiver: Receiver;
  queue: Item[];
  /** Held back by the hourly limit, sent as one message when the limit allows. */
  overflow: Item[];
  sentAt: number[];
  running?: Promise<void>;
  timer?: NodeJS.Timeout;
  failing: boolean;
}

/**
 * Sends notifications off the client's cycle: `notify` only queues, and everything else (the
 * dedup document, the sending, retries with backoff, the record of what happened) runs in the
 * background, so a dead receiver costs a cycle nothing.
 *
 * Each event is sent at most once across all sites: the site that creates its notify document
 * (a PUT without `_rev`) sends it, a site answered 409 does not. The document is created before
 * sending: a client that dies between the two loses that one message rather than have two sites
 * (or a restarted one) send it twice, and the document, left `sending`, shows in `gasp why` and the
 * dashboard what was lost. At-most-once, since every event here is also in the logs, the dashboard
 * and `gasp why`; a page sent twice at night by several sites is the worse failure.
 */
export class Notifier {
  readonly #options: Required<Omit<NotifierOptions, 'retry' | 'windowMs' | 'now'>> & {
    retry: RetryPolicy;
    windowMs: number;
    now: () => Date;
  };
  readonly #lanes: Lane[];
  readonly #stop = new AbortController();
  #tasks: Promise<void> = Promise.resolve();

  constructor(options: NotifierOptions) {
    this.#options = {
      retry: NOTIFY_RETRY,
      windowMs: HOUR_MS,
      now: () => new Date(),
      ...options,
      log: options.log.child({ component: 'notify' }),
    };
    this.#lanes = options.receivers.map((receiver) => ({
      receiver,
      queue: [],
      overflow: [],
      sentAt: [],
      failing: false,
    }));
  }

  /** Queues an event and returns at once; the proxy check and the client call this. */
  notify(event: NotifyEvent): void {
    this.background(() => this.#claimAndQueue(event));
  }

  /** Runs a task after the ones before it, off the caller's path; its failure is logged, never thrown. */
  background(task: () => Promise<void>): void {
    this.#tasks = this.#tasks.then(task).catch((error: unknown) => {
      if (!this.#stop.signal.aborted)
        this.#options.log.warn({ error: (error as Error).message }, 'notification not sent');
    });
  }

  /** Resolves when nothing is queued or being sent (messages held back by the limit wait on). */
  async idle(): Promise<void> {
    for (;;) {
      const tasks = this.#tasks;
      await tasks;
      const running = this.#lanes.flatMap((lane) => (lane.running === undefined ? [] : [lane.running]));
      await Promise.all(running);
      if (tasks === this.#tasks && this.#lanes.every((lane) => lane.running === undefined)) return;
    }
  }

  /** On the way out: what is being sent gets `graceMs` to finish; the rest is dropped. */
  async stop(graceMs = 5_000): Promise<void> {
    const idle = new AbortController();
    await Promise.race([this.idle().then(() => idle.abort()), sleep(graceMs, idle.signal)]);
    this.#stop.abort();
    for (const lane of this.#lanes) clearTimeout(lane.timer);
  }

  async #claimAndQueue(event: NotifyEvent): Promise<void> {
    const { db, log, site, now } = this.#options;
    if (this.#lanes.length === 0 || this.#stop.signal.aborted) return;
    const at = now().toISOString();
    const doc: NotifyDoc = {
      _id: notifyId(event),
      type: 'notify',
      kind: event.kind,
      subject: event.subject,
      generation: event.generation,
      ...(event.label !== undefined && { label: event.label }),
      ...(event.site !== undefined && { site: event.site }),
      title: event.title,
      text: event.text,
      by: `site ${site}`,
      claimed: at,
      receivers: Object.fromEntries(
        this.#lanes.map((lane) => [lane.receiver.name, { state: 'sending', at, tries: 0 } satisfies Delivery]),
      ),
    };
    try {
      await db.put(doc);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      log.debug({ id: doc._id }, 'notification sent by another site');
      return;
    }
    const message = messageOf(event, db.name);
    for (const lane of this.#lanes) {
      lane.queue.push({ ids: [doc._id], message, summary: false });
      this.#kick(lane);
    }
  }

  #kick(lane: Lane): void {
    lane.running ??= this.#run(lane)
      .catch((error: unknown) => this.#options.log.warn({ error: (error as Error).message }, 'notification not sent'))
      .finally(() => (lane.running = undefined));
  }

  async #run(lane: Lane): Promise<void> {
    const { perHour, windowMs } = this.#options;
    while (lane.queue.length > 0 && !this.#stop.signal.aborted) {
      const now = Date.now();
      lane.sentAt = lane.sentAt.filter((time) => now - time < windowMs);
      if (lane.sentAt.length >= perHour) {
        lane.overflow.push(...lane.queue.splice(0));
        this.#flushLater(lane, (lane.sentAt[0] ?? now) + windowMs - now);
        return;
      }
      const item = lane.queue.shift();
      if (item !== undefined) await this.#deliver(lane, item);
    }
  }

  /** When the limit allows, the held-back messages go as one. */
  #flushLater(lane: Lane, ms: number): void {
    if (lane.timer !== undefined) return;
    lane.timer = setTimeout(
      () => {
        lane.timer = undefined;
        const held = lane.overflow.splice(0);
        if (held.length === 0) return;
        const lines = held.map((item) => `- ${item.message.title}`);
        lane.queue.unshift({
          ids: held.flatMap((item) => item.ids),
          summary: true,
          message: {
            title: `gasp: ${held.length} more notification(s), held back by the limit of ${this.#options.perHour} an hour`,
            text: lines.join('\n'),
            fields: { kind: 'summary', count: held.length },
          },
        });
        this.#kick(lane);
      },
      Math.max(0, ms),
    );
    lane.timer.unref();
  }

  /** Tries until it is sent or the retries run out, waiting with backoff; one log line per change of state. */
  async #deliver(lane: Lane, item: Item): Promise<void> {
    const { log, retry } = this.#options;
    const name = lane.receiver.name;
    for (let attempt = 1; ; attempt++) {
      try {
        await lane.receiver.send(item.message, this.#stop.signal);
        lane.sentAt.push(Date.now());
        if (lane.failing) log.info({ receiver: name }, `${name} takes notifications again`);
        lane.failing = false;
        log.info({ receiver: name, ids: item.ids }, `notified ${name}: ${item.message.title}`);
        return this.#record(item.ids, name, { state: item.summary ? 'summarised' : 'sent', tries: attempt });
      } catch (error) {
        const reason = (error as Error).message;
        if (attempt >= retry.attempts || this.#stop.signal.aborted) {
          log.warn({ receiver: name }, `notification not sent after ${attempt} tries: ${reason}`);
          return this.#record(item.ids, name, { state: 'failed', tries: attempt, error: reason });
        }
        if (!lane.failing) log.warn({ receiver: name }, `notification not sent (${reason}); trying again with backoff`);
        lane.failing = true;
        await sleep(backoffDelay(retry, attempt), this.#stop.signal);
      }
    }
  }

  /** What a receiver did with these events, on their documents (a conflict: read again and retry). */
  async #record(ids: readonly string[], name: string, delivery: Omit<Delivery, 'at'>): Promise<void> {
    const { db, log, now } = this.#options;
    for (const id of ids) {
      for (let tries = 0; tries < 5; tries++) {
        try {
          const doc = await db.find<NotifyDoc>(id);
          if (doc === undefined) break;
          doc.receivers[name] = { ...delivery, at: now().toISOString() };
          await db.put(doc);
          break;
        } catch (error) {
          if (!(error instanceof ConflictError)) {
            log.debug({ id, error: (error as Error).message }, 'notification not recorded');
            break;
          }
        }
      }
    }
  }
}
