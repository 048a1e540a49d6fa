/**
 * A lease: something held until a time, on the database server's clock (every site reads the
 * same clock, so a site whose own clock is wrong judges leases as the others do). The pass claim,
 * the cross-site lock and the submit lease all keep these rules.
 */

/** When a lease taken or renewed at `now` for `seconds` ends (ISO, server time). */
export const leaseEnd = (now: Date, seconds: number): string => new Date(now.getTime() + seconds * 1000).toISOString();

/** The lease ended: another holder may take what it held. */
export const leaseExpired = (until: string, now: Date): boolean => Date.parse(until) <= now.getTime();

/** Past half its time: the holder renews it now, so one missed renewal never costs it. */
export const renewalDue = (until: string, now: Date, seconds: number): boolean =>
  Date.parse(until) < now.getTime() + (seconds * 1000) / 2;

/** Who holds a document lease: enough for a person to find the process, and to tell two holders in it apart. */
export interface LeaseHolderId {
  host: string;
  pid: number;
  /** Unique per holder: tells apart holders in one process, and a restarted process from the one before. */
  instance: string;
}

/** The fields every lease document keeps beside its own (times in server time). */
export interface LeaseFields {
  holder: LeaseHolderId;
  taken: string;
  renewed: string;
  until: string;
}

/** A lease document as read back: one written by an older gasp may lack fields. */
export type StoredLease = Partial<LeaseFields>;

/**
 * Where a lease document stands for one who wants it:
 * - free: there is none;
 * - mine: this holder has it now (another use of the same holder must wait too);
 * - left: this holder's, but it does not have it now: a release that failed (the database was away);
 * - expired: its end passed, by the server's clock;
 * - dead: its holder ran on this host and its process is gone;
 * - held: a live holder has it.
 */
export type LeaseState = 'free' | 'mine' | 'left' | 'expired' | 'dead' | 'held';

/** What one who wants a lease knows of itself and of this host's processes. */
export interface LeaseTaker {
  host: string;
  instance: string;
  /** It holds this lease now (its own record, not the document's). */
  holdsIt: boolean;
  alive: (pid: number) => boolean;
}

/** When a stored lease ends: its `until`, else (written before leases had one) `seconds` after its renewal. */
export function storedLeaseEnd(stored: StoredLease, seconds: number): string | undefined {
  if (stored.until !== undefined) return stored.until;
  return stored.renewed === undefined ? undefined : leaseEnd(new Date(stored.renewed), seconds);
}

export function leaseState(stored: StoredLease | undefined, now: Date, seconds: number, taker: LeaseTaker): LeaseState {
  if (stored === undefined) return 'free';
  const holder = stored.holder;
  if (holder?.instance === taker.instance) return taker.holdsIt ? 'mine' : 'left';
  const until = storedLeaseEnd(stored, seconds);
  // one without a holder or an end (an older kind of document) holds nothing anyone could renew
  if (until === undefined || holder === undefined || leaseExpired(until, now)) return 'expired';
  if (holder.host === taker.host && !taker.alive(holder.pid)) return 'dead';
  return 'held';
}

/** The states in which a lease document exists and the one who wants it may replace it. */
export type TakeOver = 'left' | 'expired' | 'dead';

export const takesOver = (state: LeaseState): state is TakeOver =>
  state === 'left' || state === 'expired' || state === 'dead';

/** Whether one in `state` may take the lease. */
export const leaseTakeable = (state: LeaseState): boolean => state === 'free' || takesOver(state);
