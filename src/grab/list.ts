import { join, resolve } from 'node:path';
import type { Database } from '../db/database.js';
import { writeFileAtomic } from '../files.js';
import { usableReplicas } from '../model/data.js';
import type { DataDoc, DataFile } from '../model/documents.js';
import { normalAdler32 } from '../storage/adler32.js';
import { OUTPUT_PROCESSORS } from '../production/macro.js';
import { dataDocsOf } from '../shifter/data-docs.js';
import { selectPasses, type Selection } from '../shifter/selection.js';
import { checksOf, type Grabbed, type GrabFile } from './grab.js';
import { labelText } from '../model/label.js';

/** The data types a macro's outputs get (a second output of a kind is `other_<kind>`). */
export const DATA_TYPES: readonly string[] = Object.values(OUTPUT_PROCESSORS).flatMap((kind) => [
  kind,
  `other_${kind}`,
]);

/** What grab needs of one file of a data document; its copies in the order of `prefer` (SE names), those marked missing left out. */
export function grabFileOf(doc: DataDoc, file: DataFile, prefer: readonly string[]): GrabFile {
  return {
    name: file.name,
    size: file.size,
    sha256: file.sha256,
    // eight digits, as xrdcp --cksum takes it (an older writer may have dropped leading zeros)
    adler32: file.adler32 === '' ? '' : normalAdler32(file.adler32),
    events: file.events,
    // an older document may have none
    ...(file.guid !== undefined && file.guid !== '' && { guid: file.guid }),
    data_type: doc.data_type,
    module: doc.module,
    run: doc.run,
    pass: doc.pass,
    label: labelText(doc.label),
    replicas: usableReplicas(file, prefer).map(({ se, url }) => ({ se, url })),
  };
}

/**
 * The output files of the selected passes, from their data documents, optionally of some data
 * types only; with the data types those documents hold, so a caller can tell a mistyped type from
 * one these passes did not make. Each file's copies are in the order of `prefer` (SE names), then
 * as recorded; copies marked missing are left out.
 */
export async function listGrabFiles(
  db: Database,
  selection: Selection,
  types?: ReadonlySet<string>,
  prefer: readonly string[] = [],
): Promise<{ files: GrabFile[]; typesHeld: Set<string> }> {
  const passes = await selectPasses(db, selection);
  const files = new Map<string, GrabFile>();
  const typesHeld = new Set<string>();
  const stored = await dataDocsOf(
    db,
    passes.map(({ doc, pass }) => ({ module: doc.module, run: doc.run, pass: pass.pass })),
  );
  for (const doc of stored) {
    typesHeld.add(doc.data_type);
    if (types !== undefined && !types.has(doc.data_type)) continue;
    for (const file of doc.files) files.set(file.name, grabFileOf(doc, file, prefer));
  }
  return { files: [...files.values()].sort((a, b) => a.name.localeCompare(b.name)), typesHeld };
}

/**
 * Beside the data: `catalogue.txt`, one `<file>, <events>` line per file (the sPHENIX pull
 * convention; `-` where the wrapper could not count events), and `manifest.json` with everything
 * the data documents say of each file, the URL of the copy it came from, and what it was checked
 * by (`checked`: size, adler32, sha256; a checksum not known is not checked). Both list only files
 * that are here and verified.
 */
export function writeCatalogue(dir: string, grabbed: readonly Grabbed[]): { catalogue: string; manifest: string } {
  const sorted = [...grabbed].sort((a, b) => a.file.name.localeCompare(b.file.name));
  const catalogue = join(dir, 'catalogue.txt');
  const manifest = join(dir, 'manifest.json');
  writeFileAtomic(catalogue, sorted.map(({ file }) => `${resolve(dir, file.name)}, ${file.events ?? '-'}\n`).join(''));
  const rows = sorted.map(({ file: { name, ...rest }, url }) => ({
    file: name,
    ...rest,
    url,
    checked: checksOf(rest),
  }));
  writeFileAtomic(manifest, `${JSON.stringify({ files: rows }, null, 2)}\n`);
  return { catalogue, manifest };
}
