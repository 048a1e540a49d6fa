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
