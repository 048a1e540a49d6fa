import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Database } from '../db/database.js';
import { jobId, type JobDoc } from '../model/documents.js';
import { LABEL, type JobsRequest } from './request.js';
import { mainLabel } from '../model/label.js';

/** Long enough to read the request in it, short enough for a file name and a terminal column. */
const MAX_STEM = 40;

/**
 * The label of a request whose entries name none: the file's name and the request id's first 8
 * hex digits (`jobs-3f9a2c1b` for jobs.json, request req-3f9a2c1b…). Readable, unique to the
 * request (its content and options), the same every time it is submitted, and a valid label and
 * file name (`<label>.exactly`) whatever the file is called.
 */
export function generatedLabel(file: string, requestId: string): string {
  const stem =
    basename(file)
      .replace(/\.(json|js)$/i, '')
      .replace(/[^\w.+-]+/g, '_')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, MAX_STEM)
      .replace(/[_.]+$/, '') || 'request';
  // a --request-id the user chose is hashed: it may hold anything, and the label must stay plain
  const id =
    /^req-([0-9a-f]{8})/.exec(requestId)?.[1] ?? createHash('sha256').update(requestId).digest('hex').slice(0, 8);
  const label = `${stem}-${id}`;
  if (!LABEL.test(label)) throw new Error(`generated label ${label} is not a label`);
  return label;
}

/** Entries (by index) that take the request's default label: neither they nor the top level name one. */
export function unlabelledEntries(request: JobsRequest): number[] {
  if (request.label !== undefined) return [];
  return request.entries.flatMap((entry, index) => (entry !== undefined && entry.label === undefined ? [index] : []));
}

/**
 * The label an earlier submit of this request gave its unlabelled entries (its first generation),
 * so running it again keeps it even when the file was renamed since; undefined if none was written.
 */
export async function earlierLabel(db: Database, requestId: string, entry: number): Promise<string | undefined> {
  const rows = await db.view<[string, number, number, number], { module: string; run: number; pass: number }>(
    'jobs',
    'by_request',
    {
      startkey: [requestId, 1, entry],
      endkey: [requestId, 1, entry, {}],
      limit: 1,
    },
  );
  const row = rows.rows[0];
  if (row === undefined) return undefined;
  const doc = await db.find<JobDoc>(jobId(row.value.module, row.value.run));
  const label = doc?.passes.find((pass) => pass.pass === row.value.pass)?.label;
  return label === undefined ? undefined : mainLabel(label);
}
