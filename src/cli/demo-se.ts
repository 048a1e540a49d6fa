import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../db/database.js';
import { grabFiles } from '../grab/grab.js';
import { listGrabFiles } from '../grab/list.js';
import { dataDocsOf } from '../shifter/data-docs.js';
import { startLocalSe, type LocalSe } from '../storage/local-se.js';
import { print } from './context.js';

/**
 * The demo's storage element for `gasp demo --storage root`: Debian's xrootd serving
 * `<dir>/se/data`. It keeps its port in `<dir>/se/port`, so a second demo in the same folder finds
 * the files its data documents name at the same URLs.
 */
export async function startDemoSe(dir: string): Promise<LocalSe> {
  const home = join(dir, 'se');
  const portFile = join(home, 'port');
  const port = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : undefined;
  const saved = port !== undefined && Number.isInteger(port) && port > 0 ? port : undefined;
  // the saved port may be taken by now: a new one then (files staged before keep their old URLs)
  const se = await startLocalSe(home, saved).catch((error: unknown) => {
    if (saved === undefined) throw error;
    return startLocalSe(home);
  });
  writeFileSync(portFile, `${new URL(se.url.replace(/^root:/, 'http:')).port}\n`);
  return se;
}

/** The demo's label whose outputs are fetched back from the SE. */
const DEMO_GRAB_LABEL = 'fixture-po210';

/** `gasp demo --storage root`: one label's outputs fetched back from the SE by grab, verified by size, adler32 and sha256. */
export async function grabFromDemoSe(production: Database, dir: string): Promise<void> {
  const into = join(dir, 'grab', DEMO_GRAB_LABEL);
  const { files } = await listGrabFiles(production, { label: DEMO_GRAB_LABEL, statuses: ['completed'] });
  const pass = files.flatMap(({ module, run, pass }) =>
    module === undefined || run === undefined || pass === undefined ? [] : [{ module, run, pass }],
  );
  const [data] = await dataDocsOf(production, pass.slice(0, 1));
  const first = data === undefined ? undefined : data.files[0];
  if (first !== undefined) {
    print(`   in the catalogue, ${first.name}: lfn ${first.lfn}, guid ${first.guid}, adler32 ${first.adler32}`);
    for (const replica of first.replicas) print(`   replica on ${replica.se}: ${replica.url}`);
  }
  const result = await grabFiles(files, { dir: into, parallel: 4 });
  print(
    `   grab ${DEMO_GRAB_LABEL}: ${result.fetched.length} fetched, ${result.present.length} already here, ${result.failed.length} failed, into ${into}`,
  );
  for (const { file, reason } of result.failed) print(`   FAILED ${file.name}: ${reason}`);
}
