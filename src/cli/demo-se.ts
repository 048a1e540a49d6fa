import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalSe, type LocalSe } from '../storage/local-se.js';

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
