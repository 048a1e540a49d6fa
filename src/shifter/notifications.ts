import type { Database } from '../db/database.js';
import { NOTIFY_PREFIX, type NotifyDoc } from '../model/notify.js';

/** The last notification about a label or a site, as `gasp why` and the dashboard show it. */
export interface LastNotification {
  /** `label L` or `site S`. */
  about: string;
  kind: NotifyDoc['kind'];
  title: string;
  claimed: string;
  by: string;
  /** Each receiver's state: `webhook https://host/… sent`, `mail a@b failed (…)`. */
  receivers: string[];
}

const describe = (doc: NotifyDoc, about: string): LastNotification => ({
  about,
  kind: doc.kind,
  title: doc.title,
  claimed: doc.claimed,
  by: doc.by,
  receivers: Object.entries(doc.receivers).map(
    ([name, delivery]) =>
      `${name} ${delivery.state}${delivery.tries > 1 ? ` after ${delivery.tries} tries` : ''}${delivery.error === undefined ? '' : ` (${delivery.error})`}`,
  ),
});

/** One line of it, for the terminal. */
export const notificationLine = (last: LastNotification): string =>
  `last notification for ${last.about}: ${last.title} (${last.claimed}, ${last.by}; ${last.receivers.join(', ')})`;

/** The newest notify document of each label and each site (there are few: one per event). */
export async function lastNotifications(db: Database): Promise<LastNotification[]> {
  const rows = await db.allDocs<NotifyDoc>({
    startkey: NOTIFY_PREFIX,
    endkey: `${NOTIFY_PREFIX}\ufff0`,
    include_docs: true,
  });
  const newest = new Map<string, NotifyDoc>();
  for (const row of rows.rows) {
    const doc = row.doc;
    if (doc?.type !== 'notify') continue;
    const about = [
      ...(doc.label === undefined ? [] : [`label ${doc.label}`]),
      ...(doc.site === undefined ? [] : [`site ${doc.site}`]),
    ];
    for (const key of about) {
      const known = newest.get(key);
      if (known === undefined || known.claimed < doc.claimed) newest.set(key, doc);
    }
  }
  return [...newest].sort(([a], [b]) => a.localeCompare(b)).map(([about, doc]) => describe(doc, about));
}
