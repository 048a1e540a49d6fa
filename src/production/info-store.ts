import type { Database, StoredDoc } from '../db/database.js';
import { ConflictError, NotFoundError } from '../db/errors.js';
import { InputError } from '../errors.js';
import { processingInfoId, type ProcessingInfoDoc } from '../model/documents.js';

/** A document of modules per RAT version: production or processing information. */
export interface InfoDoc extends StoredDoc {
  type: string;
  rat_version: string;
  modules: Record<string, unknown>;
}

export interface ModuleDiff {
  added: string[];
  removed: string[];
  /** Module → the fields that differ. */
  changed: Record<string, string[]>;
}

export interface StoreResult {
  outcome: 'created' | 'updated' | 'unchanged';
  diff: ModuleDiff;
  rev?: string;
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );

/** What changed from `before` to `after`, module by module and field by field. */
export function diffModules(before: Record<string, unknown>, after: Record<string, unknown>): ModuleDiff {
  const added = Object.keys(after)
    .filter((name) => !(name in before))
    .sort();
  const removed = Object.keys(before)
    .filter((name) => !(name in after))
    .sort();
  const changed: Record<string, string[]> = {};
  for (const name of Object.keys(after).sort()) {
    if (!(name in before)) continue;
    const old = (before[name] ?? {}) as Record<string, unknown>;
    const now = (after[name] ?? {}) as Record<string, unknown>;
    const fields = [...new Set([...Object.keys(old), ...Object.keys(now)])].filter(
      (field) => canonical(old[field]) !== canonical(now[field]),
    );
    if (fields.length > 0) changed[name] = fields.sort();
  }
  return { added, removed, changed };
}

export function isEmptyDiff(diff: ModuleDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && Object.keys(diff.changed).length === 0;
}

/** `+ WaterN16`, `- OldModule`, `~ TeloadedTl208 (sha256, template)`: one line per module. */
export function describeDiff(diff: ModuleDiff): string[] {
  return [
    ...diff.added.map((name) => `+ ${name}`),
    ...diff.removed.map((name) => `- ${name}`),
    ...Object.entries(diff.changed).map(([name, fields]) => `~ ${name} (${fields.join(', ')})`),
  ];
}

function sameContent(stored: InfoDoc, doc: InfoDoc): boolean {
  const { _id, _rev, ...storedContent } = stored;
  const { _id: id, _rev: rev, ...content } = doc;
  return canonical(storedContent) === canonical(content);
}

/**
 * Stores an information document idempotently: the same content writes nothing; different content
 * writes a new revision. `dryRun` computes the answer and writes nothing.
 */
export async function storeInfoDoc(
  db: Database,
  doc: InfoDoc,
  options: { dryRun?: boolean } = {},
  triesLeft = 3,
): Promise<StoreResult> {
  const stored = await db.find<InfoDoc>(doc._id);
  const diff = diffModules(stored?.modules ?? {}, doc.modules);
  if (stored !== undefined && sameContent(stored, doc)) return { outcome: 'unchanged', diff };
  const outcome = stored === undefined ? 'created' : 'updated';
  if (options.dryRun === true) return { outcome, diff };
  const { _rev, ...content } = doc;
  try {
    const written = await db.put({ ...content, ...(stored?._rev !== undefined && { _rev: stored._rev }) });
    return { outcome, diff, rev: written.rev };
  } catch (error) {
    // someone stored it in between: compare with theirs
    if (error instanceof ConflictError && triesLeft > 1) return storeInfoDoc(db, doc, options, triesLeft - 1);
    throw error;
  }
}

/** A RAT version's processing information from this database; bad input naming the upload to run when it is not there. */
export async function readProcessingInfo(db: Database, rat: string, upload: string): Promise<ProcessingInfoDoc> {
  try {
    return await db.get<ProcessingInfoDoc>(processingInfoId(rat));
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new InputError([`--rat: no processing information for RAT ${rat} in ${db.name} (expected ${upload} first)`]);
  }
}
