import type { Server } from './database.js';

/**
 * The database server's clock, as the sites agree on time: every site reads it from the HTTP `Date`
 * header of the server's answers and keeps the offset from its own clock. Heartbeats, leases (the
 * cross-site locks, the submit of a request, the claim of a pass) and staleness are all written and judged in server time, so a site whose own clock is
 * wrong by minutes is still judged fairly. The header has one-second resolution; the stale windows
 * are minutes (seconds in tests), so that is enough.
 */
export class ServerClock {
  #offsetMs = 0;

  constructor(readonly couch: Server) {}

  /** Asks the server for its time (a HEAD request) and keeps the offset. */
  async sync(): Promise<void> {
    const sent = Date.now();
    const headers = await this.couch.request<Record<string, string | undefined>>({ method: 'HEAD' });
    const received = Date.now();
    const date = Date.parse(headers.date ?? '');
    // the header drops the milliseconds: the server's true time is on average half a second later
    if (Number.isFinite(date)) this.#offsetMs = date + 500 - (sent + received) / 2;
  }

  /** How far the server's clock is ahead of this machine's, in ms (behind: negative); 0 before a sync. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }

  /** Seconds from `iso` (a server time) to now, by the server's clock. */
  ageSeconds(iso: string): number {
    return (this.now().getTime() - Date.parse(iso)) / 1000;
  }
}
