import type { ServerClock } from '../db/clock.js';
import type { Database } from '../db/database.js';
import { siteBeats } from '../coordination/sites.js';
import type { QuarantineDoc } from '../model/health.js';
import type { NotifyEvent } from '../model/notify.js';
import type { PolicyDoc } from '../model/policy.js';
import { FINAL_STATUSES, type PassStatus } from '../model/status.js';
import { summarize, type Summary } from '../shifter/summary.js';
import type { Notifier } from './notifier.js';
import { plural } from '../words.js';

/** A label auto-paused (or paused by policy): one event per pause (`since`). */
export function pauseEvent(label: string, paused: NonNullable<PolicyDoc['paused']>): NotifyEvent {
  return {
    kind: 'pause',
    subject: label,
    generation: paused.since,
    label,
    title: `gasp: label ${label} paused`,
    text: `${paused.reason} (${paused.by}, ${paused.since}); gasp resume --label ${label} when it is fixed`,
    fields: { reason: paused.reason, by: paused.by, since: paused.since },
  };
}

/** A site quarantined itself: one event per quarantine (`since`). */
export function quarantineEvent(doc: QuarantineDoc): NotifyEvent {
  return {
    kind: 'quarantine',
    subject: doc.site,
    generation: doc.since,
    site: doc.site,
    title: `gasp: site ${doc.site} quarantined`,
    text: `${doc.reason} (since ${doc.since}); it claims nothing until gasp resume --site ${doc.site}`,
    fields: { reason: doc.reason, since: doc.since },
  };
}

/**
 * The grid proxy of a site has less than `[notify] proxy_warn_hours` left (the client's proxy check
 * calls this). One event per proxy: its expiry, to the hour, so the hourly warnings of one proxy
 * are told once and a renewed proxy that runs low again is told again.
 */
export function proxyEvent(site: string, proxy: { hoursLeft: number; warnHours: number; now: Date }): NotifyEvent {
  const expires = new Date(proxy.now.getTime() + proxy.hoursLeft * 3_600_000);
  const hour = `${expires.toISOString().slice(0, 13)}:00Z`;
  return {
    kind: 'proxy',
    subject: site,
    generation: hour,
    site,
    title: `gasp: the grid proxy of site ${site} has ${proxy.hoursLeft} h left`,
    text: `it expires about ${hour}, below [notify] proxy_warn_hours (${proxy.warnHours} h); renew it at that site, or the site stops claiming once it is shorter than a job`,
    fields: { expires: hour, hours_left: proxy.hoursLeft, warn_hours: proxy.warnHours },
  };
}

/**
 * A label all of whose passes are final, with its summary: one event per set of counts by status,
 * so a label that grows, or whose failed passes are retried, and finishes again is told again.
 */
export function finishedEvent(label: string, summary: Summary): NotifyEvent {
  const counts = Object.entries(summary.byStatus)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  const rate = summary.successRate === null ? '-' : `${(100 * summary.successRate).toFixed(1)}%`;
  const events = `${summary.events.produced} of ${summary.events.requested} events`;
  return {
    kind: 'finished',
    subject: label,
    generation: Object.entries(summary.byStatus)
      .filter(([, count]) => count > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, count]) => `${status}${count}`)
      .join('-'),
    label,
    title: `gasp: label ${label} finished (${plural(summary.passes, 'pass', 'passes')}, ${rate} completed)`,
    text: [
      `${plural(summary.passes, 'pass', 'passes')}: ${counts}`,
      `success rate ${rate}; ${events}`,
      ...Object.entries(summary.quarantined).map(([site, why]) => `site ${site} quarantined ${why}`),
      `gasp summary --label ${label}`,
    ].join('\n'),
    fields: {
      passes: summary.passes,
      ...Object.fromEntries(Object.entries(summary.byStatus).map(([status, count]) => [status, count])),
      success_rate: summary.successRate,
      events_produced: summary.events.produced,
      events_requested: summary.events.requested,
    },
  };
}

/** Of these labels (some pass of each just ended), those now finished are notified, with their summaries. */
export async function notifyFinished(db: Database, notifier: Notifier, labels: Iterable<string>): Promise<void> {
  for (const label of labels) {
    const summary = await summarize(db, { label });
    const final = Object.entries(summary.byStatus).every(
      ([status, count]) => count === 0 || FINAL_STATUSES.includes(status as PassStatus),
    );
    if (summary.passes > 0 && final) notifier.notify(finishedEvent(label, summary));
  }
}

/** Sites whose client went stale (no heartbeat for longer than `stale`): one event per last heartbeat. */
export async function notifyStale(
  db: Database,
  notifier: Notifier,
  clock: Pick<ServerClock, 'ageSeconds'>,
  staleSeconds: number,
): Promise<void> {
  for (const beat of await siteBeats(db, clock, staleSeconds)) {
    if (beat.state !== 'stale') continue;
    const { site, mode } = beat.doc;
    notifier.notify({
      kind: 'stale',
      subject: site,
      generation: `${mode}@${beat.doc.beat}`,
      site,
      title: `gasp: site ${site} (${mode}) stale`,
      text: `its client's last heartbeat was ${Math.round(beat.age)} s ago (${beat.doc.beat}), more than stale (${staleSeconds} s); its expired claims go back to the queue`,
      fields: { mode, last_heartbeat: beat.doc.beat, age_seconds: Math.round(beat.age) },
    });
  }
}
