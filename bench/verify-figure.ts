/** `gasp verify` of many files on a local XRootD SE vs a plain listing of the same tree, in the same run. */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../src/db/database.js';
import { lfnOf } from '../src/model/data.js';
import type { DataDoc, DataFile } from '../src/model/documents.js';
import { selectPasses } from '../src/shifter/selection.js';
import { verifyPasses } from '../src/shifter/verify.js';
import { Adler32 } from '../src/storage/adler32.js';
import type { LocalSe } from '../src/storage/local-se.js';
import { listFiles } from '../src/storage/xrootd.js';
import type { Reporting } from './grab-throughput.js';
import { MODULE } from './seed.js';

async function timed(work: () => Promise<number>): Promise<{ count: number; ms: number }> {
  const started = performance.now();
  const count = await work();
  return { count, ms: performance.now() - started };
}

/** `count` small files on the SE, `perPass` to a completed pass, and their data documents in `db`. */
async function catalogueOnSe(se: LocalSe, db: Database, count: number, perPass: number): Promise<void> {
  const docs: DataDoc[] = [];
  for (let run = 1; run <= count / perPass; run++) {
    const pass = { label: 'bench', module: MODULE, run, pass: 1 };
    mkdirSync(join(se.data, lfnOf(pass, '')), { recursive: true });
    const files = Array.from({ length: perPass }, (_, subjob): DataFile => {
      const [name, bytes] = [`${MODULE}_r${run}_s${subjob}.root`, Buffer.from(`run ${run} ${subjob}\n`.repeat(64))];
      const [lfn, adler32] = [lfnOf(pass, name), new Adler32().update(bytes).digest()];
      writeFileSync(join(se.data, lfn), bytes);
      const url = `${se.url}/${lfn}`;
      return {
        subjob,
        name,
        lfn,
        guid: randomUUID(),
        size: bytes.length,
        adler32,
        sha256: '',
        events: null,
        url,
        replicas: [{ se: 'BENCH-SE', url }],
      };
    });
    docs.push({ _id: `data:${MODULE}:${run}:1:ntuple`, type: 'data', ...pass, data_type: 'ntuple', files });
  }
  for (let start = 0; start < docs.length; start += 500) await db.bulkDocs(docs.slice(start, start + 500));
  // the indexes verify reads, built before the timing as a live database has them
  await db.view('data', 'by_pass', { limit: 0 }, { timeoutMs: 0 });
  await db.view('jobs', 'by_label', { limit: 0 }, { timeoutMs: 0 });
}

/**
 * gasp verify (one xrdfs session for the listings, one for the checksums) of `count` files whose
 * passes are in `db` (made completed by the caller), against `xrdfs ls -l -R` of the same tree.
 */
export async function verifyFigure(
  se: LocalSe,
  db: Database,
  count: number,
  { report, progress }: Reporting,
  perPass = 10,
): Promise<void> {
  progress(`verify: ${count} files on a local XRootD storage element`);
  await catalogueOnSe(se, db, count, perPass);
  const listing = await timed(async () => (await listFiles(`${se.url}//bench`)).length);
  const verified = await timed(async () => {
    const selected = await selectPasses(db, { label: 'bench', statuses: ['completed'], pass: 'last' });
    const { ok } = await verifyPasses({ db }, selected);
    if (ok !== count) throw new Error(`verify found ${ok} of ${count} files as recorded`);
    return ok;
  });
  report(`verify, ${count} files on a local SE`, verified.ms / 1000, 's', undefined, '< 60 s');
  const rate = ({ count: files, ms }: { count: number; ms: number }) => files / (ms / 1000);
  report(`verify, ${count} files`, rate(verified), 'files/s', { name: 'xrdfs ls -l -R', value: rate(listing) });
}
