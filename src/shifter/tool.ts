import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Pass } from '../model/documents.js';
import { transitionChange, updatePasses } from '../passes/store.js';
import { unchanged, type Outcome } from '../passes/transitions.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { PassStatus } from '../model/status.js';
import { plural } from '../words.js';
import { selectPasses, type Selected, type Selection, type SelectionOptions } from './selection.js';
import { labelText } from '../model/label.js';

/** What a shifter tool shows before it changes anything. */
export interface Preview {
  count: number;
  byStatus: Record<string, number>;
  byModule: Record<string, number>;
  rows: Array<{ module: string; run: number; pass: number; status: PassStatus; site: string | null; label: string }>;
}

export const PREVIEW_ROWS = 10;

export function preview(selected: readonly Selected[]): Preview {
  const byStatus: Record<string, number> = {};
  const byModule: Record<string, number> = {};
  for (const { doc, pass } of selected) {
    byStatus[pass.status] = (byStatus[pass.status] ?? 0) + 1;
    byModule[doc.module] = (byModule[doc.module] ?? 0) + 1;
  }
  const rows = selected.slice(0, PREVIEW_ROWS).map(({ doc, pass }) => ({
    module: doc.module,
    run: doc.run,
    pass: pass.pass,
    status: pass.status,
    site: pass.site ?? pass.attempts.at(-1)?.site ?? null,
    label: labelText(pass.label),
  }));
  return { count: selected.length, byStatus, byModule, rows };
}

/** The preview as a shifter reads it: counts, then the first rows. */
export function describePreview(tool: string, shown: Preview): string[] {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
  if (shown.count === 0) return [`${tool}: no pass matches`];
  const lines = [
    `${tool}: ${plural(shown.count, 'pass', 'passes')} (${counts(shown.byStatus)}); by module: ${counts(shown.byModule)}`,
  ];
  for (const row of shown.rows)
    lines.push(
      `  ${row.module}\t${row.run}\tpass ${row.pass}\t${row.status}${row.site === null ? '' : `\t${row.site}`}\t${row.label}`,
    );
  if (shown.count > shown.rows.length) lines.push(`  … and ${shown.count - shown.rows.length} more`);
  return lines;
}

/** What a change did: to passes, how many were selected and changed; otherwise (a policy set, a site resumed), in words. */
export type AuditOutcome = { selected: number; changed: number } | { did: string };

/** What applying did, or what --yes would do; nothing when no pass matched. */
export function describeOutcome(tool: string, result: Omit<ToolResult, 'landed' | 'selected'>): string | undefined {
  const count = result.preview.count;
  const refused = Object.entries(result.refused ?? {});
  const left = refused.reduce((sum, [, n]) => sum + n, 0);
  // the rest were left alone because they moved on between the preview and the write
  const movedOn = result.changed + left < count ? ' (the others moved on meanwhile)' : '';
  const why = refused.map(([reason, n]) => `; ${n} left as ${n === 1 ? 'it is' : 'they are'}: ${reason}`).join('');
  if (result.applied)
    return `${tool}: changed ${result.changed} of ${plural(count, 'pass', 'passes')}${movedOn}${why}; recorded in the audit`;
  return count === 0
    ? undefined
    : `nothing changed: add --yes to ${tool} ${count === 1 ? 'this pass' : `these ${count} passes`}`;
}

/** An audit record: who changed what, when, with which selection, and what it did. */
export type AuditDoc = {
  _id: string;
  type: 'audit';
  tool: string;
  who: string;
  when: string;
  selection: SelectionOptions | Record<string, string | boolean>;
} & Partial<{ selected: number; changed: number; did: string }>;

/** What an audit record says it did, as `gasp audit` prints it. */
export const auditOutcome = (record: AuditDoc) =>
  record.did ?? `${record.changed ?? 0} of ${plural(record.selected ?? 0, 'pass', 'passes')}`;

export const AUDIT_PREFIX = 'audit:';

export interface ToolResult {
  preview: Preview;
  applied: boolean;
  changed: number;
  /** Passes the tool does not apply to (a cancel of a completed pass), by why. */
  refused?: Record<string, number>;
  /** The passes changed, for a tool with more to do on each (delete removes their data documents). */
  landed: Array<{ id: string; pass: number }>;
  /** The passes selected, for a tool that says more of them in its preview. */
  selected: Selected[];
}

/** A selected pass's key: its job's id and its number. */
export const passKey = (id: string, pass: number) => `${id}#${pass}`;

/** Work a tool does before its transition; the passes it names in `keep` (by passKey) are left as they are, for `reason`. */
export type BeforeTransition = (changing: Selected[]) => Promise<{ keep: ReadonlySet<string>; reason: string }>;

/**
 * Selects, previews and, only with `yes`, applies a transition to every selected pass still in a
 * selected status (bulk writes; the transition is applied again to a pass another writer changed
 * meanwhile), then writes an audit record. Passes the transition refuses are counted by why.
 */
export async function runTool(
  db: Database,
  log: Logger,
  tool: string,
  options: SelectionOptions,
  selection: Selection,
  yes: boolean,
  transition: (stored: Pass) => Outcome,
  before?: BeforeTransition,
): Promise<ToolResult> {
  const selected = await selectPasses(db, selection);
  const shown = preview(selected);
  if (!yes || selected.length === 0) return { preview: shown, applied: false, changed: 0, landed: [], selected };
  const apply = (stored: Pass) =>
    selection.statuses.includes(stored.status) ? transition(stored) : unchanged(`it is ${stored.status} now`);
  const outcomes = selected.map((item) => ({ ...item, outcome: apply(item.pass) }));
  const held = await before?.(outcomes.filter(({ outcome }) => outcome.changed));
  const refused: Record<string, number> = {};
  const changes = outcomes.flatMap(({ doc, pass, outcome }) => {
    const kept = held?.keep.has(passKey(doc._id, pass.pass)) === true;
    if (outcome.changed && !kept) return [transitionChange(doc._id, pass.pass, apply)];
    const reason = outcome.changed ? (held?.reason ?? '') : outcome.reason;
    refused[reason] = (refused[reason] ?? 0) + 1;
    return [];
  });
  const landed = await updatePasses({ db, log }, changes);
  await writeAudit(db, tool, options, { selected: selected.length, changed: landed.length });
  return {
    preview: shown,
    applied: true,
    changed: landed.length,
    ...(Object.keys(refused).length > 0 && { refused }),
    landed: landed.map(({ id, pass }) => ({ id, pass })),
    selected,
  };
}

/** The latest audit records, newest first. */
export async function readAudit(db: Database, last: number): Promise<AuditDoc[]> {
  const rows = await db.allDocs<AuditDoc>({
    startkey: `${AUDIT_PREFIX}\ufff0`,
    endkey: AUDIT_PREFIX,
    descending: true,
    limit: last,
    include_docs: true,
  });
  return rows.rows.flatMap((row) => (row.doc ? [row.doc] : []));
}

/** Who runs this tool, as audit records and attempt reasons name them. */
export const whoAmI = () => `${userInfo().username}@${hostname()}`;

/** One audit record of an applied change. */
export async function writeAudit(
  db: Database,
  tool: string,
  selection: SelectionOptions | Record<string, string | boolean>,
  outcome: AuditOutcome,
): Promise<void> {
  const when = new Date().toISOString();
  const audit: AuditDoc = {
    _id: `${AUDIT_PREFIX}${when}:${randomBytes(3).toString('hex')}`,
    type: 'audit',
    tool,
    who: whoAmI(),
    when,
    selection,
    ...outcome,
  };
  await db.put(audit);
}
