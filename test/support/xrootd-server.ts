import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSe, type LocalSe } from '../../src/storage/local-se.js';

/**
 * One XRootD storage element for the whole run (Debian's xrootd-server, started as the xrootd user
 * when the run is root's). With GASP_REQUIRE_XROOTD=1 (set by CI) a server that does not start fails
 * the run instead of skipping the tests that need it.
 */
export async function startTestSe(): Promise<LocalSe | { unavailable: string }> {
  try {
    return await startLocalSe(mkdtempSync(join(tmpdir(), 'gasp-test-se-')));
  } catch (error) {
    const unavailable = `no XRootD server starts here (${(error as Error).message}): apt-get install xrootd-server xrootd-client, as .ci/run does`;
    if (process.env.GASP_REQUIRE_XROOTD === '1') throw new Error(`GASP_REQUIRE_XROOTD=1 but ${unavailable}`);
    return { unavailable };
  }
}
