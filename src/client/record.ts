import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataDoc, JobDoc, Pass } from '../model/documents.js';
import { UnavailableError } from '../errors.js';
import { sha256OfFile } from '../files.js';
import type { ClientContext } from './context.js';
import type { Manifest } from '../model/manifest.js';
import { lfnOf } from '../model/data.js';
import { seOfUrl } from '../model/storage-url.js';

export type { Manifest };

export { readManifest } from '../backends/prepare.js';

/**
 * Checks a manifest against storage: each file:// output exists with the stated size and sha256.
 * Outputs staged by a copy command to remote storage are taken on the manifest's word.
 * Returns what is wrong, or undefined.
 */
export async function verifyManifest(
  manifest: Manifest,
  expected: readonly string[] = [],
): Promise<string | undefined> {
  if (manifest.outputs.length === 0) return 'the manifest lists no outputs';
  const listed = new Set(manifest.outputs.map((output) => output.file));
  const missing = expected.filter((file) => !listed.has(file));
  if (missing.length > 0) return `the manifest does not list ${missing.join(', ')}`;
  for (const output of manifest.outputs) {
    if (!output.url.startsWith('file://')) continue;
    const path = fileURLToPath(output.url);
    if (!existsSync(path)) return `${output.url} is not in storage`;
    if (statSync(path).size !== output.size)
      return `${output.url} has ${statSync(path).size} bytes, the manifest says ${output.size}`;
    if ((await sha256OfFile(path)) !== output.sha256) return `${output.url} does not match its sha256 in the manifest`;
  }
  return undefined;
}

/** A file's GUID, derived from where it is stored, so recording it again gives the same one. */
export function guidOf(url: string): string {
  const hex = createHash('sha256').update(url).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface PassOutputs {
  doc: JobDoc;
  pass: Pass;
  manifests: ReadonlyArray<{ subjob: number; manifest: Manifest }>;
}

/**
 * One data document per (job, pass, data type), listing each subjob's file, for many passes in one
 * read and one write. Written once: the same manifests again change nothing. Returns how many
 * documents were written.
 */
export async function recordData(ctx: ClientContext, passes: readonly PassOutputs[]): Promise<number> {
  const wanted = new Map<string, DataDoc>();
  for (const { doc, pass, manifests } of passes) {
    for (const { subjob, manifest } of manifests) {
      for (const output of manifest.outputs) {
        const id = `data:${doc.module}:${doc.run}:${pass.pass}:${output.data_type}`;
        const data = wanted.get(id) ?? {
          _id: id,
          type: 'data',
          module: doc.module,
          run: doc.run,
          pass: pass.pass,
          label: pass.label,
          data_type: output.data_type,
          files: [],
        };
        data.files.push({
          subjob,
          name: output.file,
          guid: guidOf(output.url),
          size: output.size,
          adler32: output.adler32,
          sha256: output.sha256,
          events: output.events,
          url: output.url,
          lfn: lfnOf(data, output.file),
          replicas: [{ se: ctx.site.se ?? seOfUrl(output.url), url: output.url }],
        });
        wanted.set(id, data);
      }
    }
  }
  if (wanted.size === 0) return 0;
  const stored = await ctx.db.allDocs<DataDoc>({ keys: [...wanted.keys()], include_docs: true });
  const existing = new Map(stored.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  const writes: DataDoc[] = [];
  for (const [id, data] of wanted) {
    data.files.sort((a, b) => a.subjob - b.subjob);
    const before = existing.get(id);
    if (before !== undefined && JSON.stringify(before.files) === JSON.stringify(data.files)) continue;
    writes.push({ ...data, ...(before?._rev !== undefined && { _rev: before._rev }) });
  }
  if (writes.length === 0) return 0;
  const answers = await ctx.db.bulkDocs(writes);
  const failed = answers.filter((answer) => !answer.ok);
  if (failed.length > 0)
    throw new UnavailableError(
      `data documents not written (changed meanwhile): ${failed.map((answer) => answer.id).join(', ')}; trying again next cycle`,
    );
  return writes.length;
}
