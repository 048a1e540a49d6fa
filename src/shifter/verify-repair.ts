import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_FOLDER_NAME, passFolder, readManifest } from '../backends/prepare.js';
import type { Database } from '../db/database.js';
import { currentDataDoc } from '../model/data.js';
import type { DataDoc, DataFile } from '../model/documents.js';
import type { Manifest } from '../model/manifest.js';
import type { PassName } from './verify-places.js';
import { mainLabel } from '../model/label.js';

/** An output a manifest recorded, with the subjob whose job folder held the manifest. */
export interface RecordedOutput {
  subjob: number;
  output: Manifest['outputs'][number];
}

/** What the manifests of a pass's job folders (every attempt's) recorded, by file name. */
export function manifestOutputs(workRoot: string, pass: PassName): Map<string, RecordedOutput[]> {
  const folder = passFolder(workRoot, mainLabel(pass.label), pass.module, pass.run, pass.pass);
  const outputs = new Map<string, RecordedOutput[]>();
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return outputs;
  }
  for (const name of names) {
    const subjob = JOB_FOLDER_NAME.exec(name)?.[1];
    if (subjob === undefined) continue;
    for (const output of readManifest(join(folder, name, 'manifest.json'))?.outputs ?? [])
      outputs.set(output.file, [...(outputs.get(output.file) ?? []), { subjob: Number(subjob), output }]);
  }
  return outputs;
}

/** A file found on storage that its pass's manifest recorded, as it goes into its data document. */
export interface Registration {
  doc: Pick<DataDoc, '_id' | 'label' | 'module' | 'run' | 'pass' | 'data_type'>;
  file: Omit<DataFile, 'guid'>;
}

/** A recorded copy found gone: which document and file name it. */
export interface GoneCopy {
  doc: string;
  lfn: string;
  url: string;
}

export interface Repaired {
  marked: number;
  registered: number;
  /** Repairs not written because their document changed meanwhile (a verify again sees them). */
  changedMeanwhile: number;
}

/** Adds a found file to its document: a new file, or one more copy of a file the document has with the same size and adler32. */
function register(doc: DataDoc, { file }: Registration): boolean {
  const same = doc.files.find((known) => known.name === file.name);
  if (same === undefined) {
    doc.files.push({ ...file, guid: randomUUID() });
    doc.files.sort((a, b) => a.subjob - b.subjob);
    return true;
  }
  if (same.size !== file.size || same.adler32 !== file.adler32) return false;
  if (same.replicas.some((replica) => replica.url === file.url)) return false;
  same.replicas.push(...file.replicas);
  return true;
}

/**
 * Marks copies found gone (`missing: <time>` on the replica) and registers found files, in one
 * read and one write of the documents concerned; a document written meanwhile by another is left.
 */
export async function repair(
  db: Database,
  gone: readonly GoneCopy[],
  found: readonly Registration[],
  now: Date,
): Promise<Repaired> {
  const ids = [...new Set([...gone.map((copy) => copy.doc), ...found.map((entry) => entry.doc._id)])];
  const stored = await db.allDocs<DataDoc>({ keys: ids, include_docs: true });
  const docs = new Map(
    stored.rows.flatMap((row) => (row.doc ? [[row.doc._id, currentDataDoc(row.doc).doc] as const] : [])),
  );
  const changes = new Map<string, { marked: number; registered: number }>();
  const count = (id: string, key: 'marked' | 'registered') => {
    const tally = changes.get(id) ?? { marked: 0, registered: 0 };
    tally[key] += 1;
    changes.set(id, tally);
  };
  for (const copy of gone) {
    const replica = docs
      .get(copy.doc)
      ?.files.find((file) => file.lfn === copy.lfn)
      ?.replicas.find((known) => known.url === copy.url && known.missing === undefined);
    if (replica === undefined) continue;
    replica.missing = now.toISOString();
    count(copy.doc, 'marked');
  }
  for (const entry of found) {
    const doc = docs.get(entry.doc._id) ?? { ...entry.doc, type: 'data' as const, files: [] };
    docs.set(doc._id, doc);
    if (register(doc, entry)) count(doc._id, 'registered');
  }
  const writes = [...changes.keys()].flatMap((id) => docs.get(id) ?? []);
  const answers = writes.length === 0 ? [] : await db.bulkDocs(writes);
  const repaired: Repaired = { marked: 0, registered: 0, changedMeanwhile: 0 };
  for (const answer of answers) {
    const tally = changes.get(answer.id) ?? { marked: 0, registered: 0 };
    if (answer.ok) {
      repaired.marked += tally.marked;
      repaired.registered += tally.registered;
    } else repaired.changedMeanwhile += tally.marked + tally.registered;
  }
  return repaired;
}
