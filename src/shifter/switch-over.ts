import { describeOldClients, findOldClients, oldClientsAlive, type OldClients } from '../coordination/old-gasp.js';
import type { Database } from '../db/database.js';
import type { JobDoc } from '../model/documents.js';
import { OLD_CLIENT_STATUSES, type PassStatus } from '../model/status.js';
import { plural } from '../words.js';
import { passKey, writeAudit } from './tool.js';
import type { Selected } from './selection.js';

/** Job documents read in one request. */
const PAGE = 500;

export interface SwitchOverState {
  database: string;
  old?: OldClients;
  /** Passes in a status only GASP writes (`new`), by status. */
  oldStatuses: Record<string, number>;
  /** Submitted or running passes with no gasp claim: GASP's clients hold them, and only they follow their jobs. */
  heldByOld: number;
  /** Some of them, as `module run pass`. */
  heldExamples: string[];
}

const SHOWN = 5;

/** Passes of some statuses, with their documents, a page at a time. */
async function passesIn(db: Database, statuses: readonly PassStatus[]): Promise<Selected[]> {
  const ids = new Set<string>();
  for (const status of statuses) {
    const rows = await db.view<[string, string]>('passes', 'by_status', { startkey: [status], endkey: [status, {}] });
    for (const row of rows.rows) if (row.id !== undefined) ids.add(row.id);
  }
  const found: Selected[] = [];
  const all = [...ids];
  for (let at = 0; at < all.length; at += PAGE) {
    const page = await db.allDocs<JobDoc>({ keys: all.slice(at, at + PAGE), include_docs: true });
    for (const row of page.rows) {
      const doc = row.doc;
      if (doc === undefined || doc === null || !Array.isArray(doc.passes)) continue;
      for (const pass of doc.passes) if (statuses.includes(pass.status)) found.push({ doc, pass });
    }
  }
  return found;
}

/** What stands between this database and gasp: GASP's coordination documents, and the passes its clients hold. */
export async function switchOverState(db: Database, now: Date): Promise<SwitchOverState> {
  const old = await findOldClients(db, now);
  const oldStatuses: Record<string, number> = {};
  const gaspOnly = Object.keys(OLD_CLIENT_STATUSES) as PassStatus[];
  for (const { pass } of await passesIn(db, gaspOnly)) oldStatuses[pass.status] = (oldStatuses[pass.status] ?? 0) + 1;
  // gasp writes a claim before any backend call: a held pass without one is an old client's
  const held = (await passesIn(db, ['submitted', 'running'])).filter(({ pass }) => pass.claim === undefined);
  return {
    database: db.name,
    ...(old !== undefined && { old }),
    oldStatuses,
    heldByOld: held.length,
    heldExamples: held.slice(0, SHOWN).map(({ doc, pass }) => `${doc.module} run ${doc.run} pass ${pass.pass}`),
  };
}

/** The state as a production manager reads it: what is left to do, each with the command that does it. */
export function describeSwitchOver(state: SwitchOverState): string[] {
  const lines: string[] = [];
  const ok = (text: string) => lines.push(`✓ ${text}`);
  const todo = (text: string) => lines.push(`✗ ${text}`);
  if (state.old === undefined) ok(`${state.database}: no GASP enqueue_command documents: gasp enqueue may start`);
  else
    todo(
      oldClientsAlive(state.old)
        ? `${describeOldClients(state.database, state.old)}: stop GASP's enqueue_command at every site first`
        : `${describeOldClients(state.database, state.old)}: gasp switch-over --yes removes them once no old client runs`,
    );
  if (state.heldByOld === 0) ok('no pass is held by an old client (submitted or running without a gasp claim)');
  else
    todo(
      `${plural(state.heldByOld, 'pass', 'passes')} submitted or running under GASP's clients (${state.heldExamples.join(', ')}${state.heldByOld > state.heldExamples.length ? ', …' : ''}): keep gasp_client.py --mononly running until they end`,
    );
  for (const [status, count] of Object.entries(state.oldStatuses)) {
    if (count === 0) continue;
    todo(
      `${plural(count, 'pass', 'passes')} ${status}: ${OLD_CLIENT_STATUSES[status as PassStatus] ?? ''}; once GASP's clients are stopped, gasp retry --status ${status} --label … --yes puts them back to waiting`,
    );
  }
  return lines;
}

export interface Removal {
  removed: string[];
  /** Documents a delete did not remove (another writer changed them meanwhile), with why. */
  left?: string[];
  /** Why nothing was removed. */
  refused?: string;
}

/**
 * Removes GASP's coordination documents, so gasp enqueue starts: refused while an old client wrote a
 * heartbeat within GASP's stale window or still holds passes, unless `force`. Audited.
 */
export async function removeOldClients(
  db: Database,
  state: SwitchOverState,
  { force }: { force: boolean },
): Promise<Removal> {
  const old = state.old;
  if (old === undefined) return { removed: [] };
  if (!force && oldClientsAlive(old))
    return { removed: [], refused: `${describeOldClients(db.name, old)}; stop them, or --force` };
  if (!force && state.heldByOld > 0)
    return {
      removed: [],
      refused: `${plural(state.heldByOld, 'pass', 'passes')} still submitted or running under GASP's clients; let them end (gasp_client.py --mononly), or --force`,
    };
  const answers = await db.bulkDocs(old.documents.map((doc) => ({ _id: doc.id, _rev: doc.rev, _deleted: true })));
  const removed = answers.filter((answer) => answer.ok).map((answer) => answer.id);
  // a conflict: GASP wrote it again meanwhile, so an old client is not gone after all
  const left = answers.flatMap((answer) => (answer.ok ? [] : [`${answer.id} (${answer.error})`]));
  await writeAudit(db, 'switch-over', { force }, { did: `removed ${removed.join(', ') || 'nothing'}` });
  return { removed, ...(left.length > 0 && { left }) };
}

/**
 * For `gasp retry`: passes in a status only GASP writes are left as they are while GASP's clients
 * may still submit them (a heartbeat within its stale window), so no pass reaches two backends.
 */
export async function keepWhileOldClientsRun(
  db: Database,
  changing: readonly Selected[],
  now: Date,
): Promise<{ keep: ReadonlySet<string>; reason: string; lines: string[] }> {
  const fromOld = changing.filter(({ pass }) => Object.hasOwn(OLD_CLIENT_STATUSES, pass.status));
  const none = { keep: new Set<string>(), reason: '', lines: [] };
  if (fromOld.length === 0) return none;
  const old = await findOldClients(db, now);
  if (old === undefined || !oldClientsAlive(old)) return none;
  return {
    keep: new Set(fromOld.map(({ doc, pass }) => passKey(doc._id, pass.pass))),
    reason: `GASP's clients may still submit them (${describeOldClients(db.name, old)})`,
    lines: [],
  };
}
