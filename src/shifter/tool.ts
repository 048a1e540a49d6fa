import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { updatePasses, type PassChange } from '../client/update.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { PassStatus } from '../model/status.js';
import { plural } from '../words.js';
import { selectPasses, type Selected, type Selection, type SelectionOptions } from './selection.js';

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
    label: pass.label,
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
export function describeOutcome(tool: string, result: Omit<ToolResult, 'landed'>): string | undefined {
  const count = result.preview.count;
  // a pass is left alone only when it moved on between the preview and the write
  const movedOn = result.changed < count ? ' (the others moved on meanwhile)' : '';
  if (result.applied)
    return `${tool}: changed ${result.changed} of ${plural(count, 'pass', 'passes')}${movedOn}; recorded in the audit`;
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
  /** The passes changed, for a tool with more to do on each (delete removes their data documents). */
  landed: Array<{ id: string; pass: number }>;
}

/**
 * Selects, previews and, only with `yes`, applies a change to every selected pass (bulk writes;
 * a pass that moved on meanwhile is left alone by its `apply`), then writes an audit record.
 */
export async function runTool(
  db: Database,
  log: Logger,
  tool: string,
  options: SelectionOptions,
  selection: Selection,
  yes: boolean,
  change: (selected: Selected) => PassChange,
): Promise<ToolResult> {
  const selected = await selectPasses(db, selection);
  const shown = preview(selected);
  if (!yes || selected.length === 0) return { preview: shown, applied: false, changed: 0, landed: [] };
  const landed = await updatePasses({ db, log }, selected.map(change));
  await writeAudit(db, tool, options, { selected: selected.length, changed: landed.length });
  return {
    preview: shown,
    applied: true,
    changed: landed.length,
    landed: landed.map(({ id, pass }) => ({ id, pass })),
  };
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
