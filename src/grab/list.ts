import { renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Database } from '../db/database.js';
import type { DataDoc } from '../model/documents.js';
import { selectPasses, type Selection } from '../shifter/selection.js';
import type { GrabFile } from './grab.js';

/** The output files of the selected passes, from their data documents (one request per 1,000 passes), optionally of some data types only. */
export async function listGrabFiles(db: Database, selection: Selection, types?: ReadonlySet<string>): Promise<GrabFile[]> {
  const passes = await selectPasses(db, selection);
  const keys = passes.map(({ doc, pass }) => [doc.module, doc.run, pass.pass]);
  const files = new Map<string, GrabFile>();
  for (let start = 0; start < keys.length; start += 1_000) {
    const rows = await db.view<unknown[], string, DataDoc>('data', 'by_pass', { keys: keys.slice(start, start + 1_000), include_docs: true });
    for (const { doc } of rows.rows) {
      if (!doc || (types !== undefined && !types.has(doc.data_type))) continue;
      for (const file of doc.files) {
        files.set(file.name, { name: file.name, url: file.url, size: file.size, sha256: file.sha256, events: file.events, data_type: doc.data_type, module: doc.module, run: doc.run, pass: doc.pass, label: doc.label });
      }
    }
  }
  return [...files.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function writeWhole(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

/**
 * Beside the data: `catalogue.txt`, one `<file>, <events>` line per file (the sPHENIX pull
 * convention; `-` where the wrapper could not count events), and `manifest.json` with everything
 * the data documents say of each file. Both list only files that are here and verified.
 */
export function writeCatalogue(dir: string, files: readonly GrabFile[]): { catalogue: string; manifest: string } {
  const sorted = [...files].sort((a, b) => a.name.localeCompare(b.name));
  const catalogue = join(dir, 'catalogue.txt');
  const manifest = join(dir, 'manifest.json');
  writeWhole(catalogue, sorted.map((file) => `${resolve(dir, file.name)}, ${file.events ?? '-'}\n`).join(''));
  writeWhole(manifest, `${JSON.stringify({ files: sorted.map(({ name, ...rest }) => ({ file: name, ...rest })) }, null, 2)}\n`);
  return { catalogue, manifest };
}
