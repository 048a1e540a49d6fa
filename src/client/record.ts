import { randomUUID } from 'node:crypto';
import type { DataDoc, DataFile, JobDoc, Pass } from '../model/documents.js';
import { UnavailableError } from '../errors.js';
import type { ClientContext } from './context.js';
import type { Manifest } from '../model/manifest.js';
import { currentDataDoc, lfnOf, type StoredDataDoc } from '../model/data.js';
import { seOfUrl } from '../model/storage-url.js';
import { checkStored } from '../storage/check.js';
import type { RemoteAnswer } from '../storage/many.js';

export type { Manifest };

/**
 * Checks a manifest against storage (storage/check.ts): each file:// output exists with the stated
 * size and sha256, each root:// output with the stated size and adler32 as the SE computes it.
 * Outputs staged by a copy command are taken on the manifest's word. Returns what is wrong, or
 * undefined; throws StorageUnavailableError when an SE does not answer (`unreachable` collects it,
 * so the other passes of a cycle do not wait for it again).
 */
export async function verifyManifest(
  manifest: Manifest,
  expected: readonly string[] = [],
  unreachable?: Set<string>,
  known?: ReadonlyMap<string, RemoteAnswer>,
): Promise<string | undefined> {
  if (manifest.outputs.length === 0) return 'the manifest lists no outputs';
  const listed = new Set(manifest.outputs.map((output) => output.file));
  const missing = expected.filter((file) => !listed.has(file));
  if (missing.length > 0) return `the manifest does not list ${missing.join(', ')}`;
  for (const output of manifest.outputs) {
    const wrong = await checkStored(output.url, output, { recordedBy: 'the manifest', unreachable, known });
    if (wrong !== undefined) return wrong;
  }
  return undefined;
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
  const wanted = recordedDocs(passes, ctx.site.se);
  if (wanted.size === 0) return 0;
  const stored = await ctx.db.allDocs<StoredDataDoc>({ keys: [...wanted.keys()], include_docs: true });
  const existing = new Map(
    stored.rows.flatMap((row) => (row.doc ? [[row.doc._id, currentDataDoc(row.doc).doc] as const] : [])),
  );
  const writes: DataDoc[] = [];
  for (const [id, data] of wanted) {
    const before = existing.get(id);
    const storedAt = (lfn: string) => before?.files.find((file) => file.lfn === lfn);
    const files = data.files.map((file) => catalogued(file, storedAt(file.lfn))).sort((a, b) => a.subjob - b.subjob);
    if (before !== undefined && sameJson(before.files.map(catalogueOrder), files)) continue;
    writes.push({ ...data, files, ...(before?._rev !== undefined && { _rev: before._rev }) });
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

/** A file as a manifest gives it: everything but the GUID, which only the stored document can tell. */
type RecordedFile = Omit<DataFile, 'guid'>;

/** The data documents these manifests make, by id, their files as staged by this site (its SE name, else the URL's). */
function recordedDocs(
  passes: readonly PassOutputs[],
  se: string | undefined,
): Map<string, Omit<DataDoc, 'files'> & { files: RecordedFile[] }> {
  const wanted = new Map<string, Omit<DataDoc, 'files'> & { files: RecordedFile[] }>();
  for (const { doc, pass, manifests } of passes) {
    for (const { subjob, manifest } of manifests) {
      for (const output of manifest.outputs) {
        const id = `data:${doc.module}:${doc.run}:${pass.pass}:${output.data_type}`;
        const data = wanted.get(id) ?? {
          _id: id,
          type: 'data' as const,
          module: doc.module,
          run: doc.run,
          pass: pass.pass,
          label: pass.label,
          rat_version: pass.rat_version,
          data_type: output.data_type,
          files: [],
        };
        data.files.push({
          subjob,
          name: output.file,
          lfn: lfnOf(data, output.file),
          size: output.size,
          adler32: output.adler32,
          sha256: output.sha256,
          events: output.events,
          url: output.url,
          replicas: [{ se: se ?? seOfUrl(output.url), url: output.url }],
        });
        wanted.set(id, data);
      }
    }
  }
  return wanted;
}

/**
 * A recorded file as the catalogue keeps it. The same bytes as the stored file at its LFN keep that
 * file's GUID, and a copy at another URL (another SE) is one more replica; new bytes at the LFN (a
 * retried pass) are a new file: a new GUID, and only the copy just staged.
 */
function catalogued(file: RecordedFile, stored: DataFile | undefined): DataFile {
  const same =
    stored !== undefined &&
    stored.size === file.size &&
    stored.adler32 === file.adler32 &&
    stored.sha256 === file.sha256;
  if (!same) return catalogueOrder({ ...file, guid: randomUUID() });
  // the wrapper has just staged and checked this copy: a `missing` mark on it no longer holds
  const known = stored.replicas.some((replica) => replica.url === file.url);
  const replicas = [
    ...stored.replicas.map((replica) => (replica.url === file.url ? { se: replica.se, url: replica.url } : replica)),
    ...(known ? [] : file.replicas),
  ];
  // the URL older readers use: the first copy not known to be gone
  const url = (replicas.find((replica) => replica.missing === undefined) ?? replicas[0])?.url ?? file.url;
  return catalogueOrder({ ...file, guid: stored.guid, url, replicas });
}

/** A file's fields in one order, so a stored file and a recorded one compare as JSON whatever wrote them. */
function catalogueOrder(file: DataFile): DataFile {
  const { subjob, name, lfn, guid, size, adler32, sha256, events, url } = file;
  const replicas = file.replicas.map(({ se, url: at, missing }) => ({
    se,
    url: at,
    ...(missing !== undefined && { missing }),
  }));
  return { subjob, name, lfn, guid, size, adler32, sha256, events, url, replicas };
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
