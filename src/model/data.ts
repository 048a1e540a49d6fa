import type { DataDoc, DataFile } from './documents.js';
import { seOfUrl } from './storage-url.js';
import { mainLabel } from './label.js';

/**
 * A file's logical name: its path below the storage root, `/label/module/run/pass/name`, the same
 * on every SE (the job wrapper stages to that path below the site's storage URL).
 */
export function lfnOf(doc: Pick<DataDoc, 'label' | 'module' | 'run' | 'pass'>, name: string): string {
  return `/${mainLabel(doc.label)}/${doc.module}/${doc.run}/${doc.pass}/${name}`;
}

/** A data file as documents before replicas stored it: one URL, no LFN. */
type OlderFile = Omit<DataFile, 'lfn' | 'replicas'> & Partial<Pick<DataFile, 'lfn' | 'replicas'>>;

/** A data document as read from the database: in today's form or an older one. */
export type StoredDataDoc = Omit<DataDoc, 'files'> & { files: OlderFile[] };

/**
 * A data document in today's form, whatever form it was stored in: files recorded before replicas
 * get their LFN and their one URL as a replica (the GUID they had is kept). `migrated` says whether
 * anything was added, so `gasp migrate` writes only what changes.
 */
export function currentDataDoc(stored: StoredDataDoc): {
  doc: DataDoc;
  migrated: boolean;
} {
  let migrated = false;
  const files = stored.files.map((file): DataFile => {
    if (file.lfn !== undefined && file.replicas !== undefined) return file as DataFile;
    migrated = true;
    return {
      ...file,
      lfn: file.lfn ?? lfnOf(stored, file.name),
      replicas: file.replicas ?? [{ se: seOfUrl(file.url), url: file.url }],
    };
  });
  return { doc: migrated ? { ...stored, files } : (stored as DataDoc), migrated };
}

/** The copies of a file not known to be gone, in the order given by `prefer` (SE names), then as recorded. */
export function usableReplicas(file: DataFile, prefer: readonly string[] = []): DataFile['replicas'] {
  const rank = (se: string) => {
    const at = prefer.indexOf(se);
    return at === -1 ? prefer.length : at;
  };
  return file.replicas
    .map((replica, order) => ({ replica, order }))
    .filter(({ replica }) => replica.missing === undefined)
    .sort((a, b) => rank(a.replica.se) - rank(b.replica.se) || a.order - b.order)
    .map(({ replica }) => replica);
}
