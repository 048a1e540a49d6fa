import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { Database } from '../src/db/database.js';
import type { DataDoc } from '../src/model/documents.js';
import { parseRootUrl } from '../src/model/storage-url.js';
import { remoteFile, statFile } from '../src/storage/xrootd.js';
import { gaspOn, runGasp } from './support/cli.js';
import { completedData, context, databaseWithJobs } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

/**
 * The whole chain against the run's real XRootD server: jobs stage there through the wrapper, the
 * data documents carry what a grid catalogue expects, grab fetches from the SE and verifies, verify
 * finds what changed behind gasp's back, and delete --purge-storage removes the files.
 */
describe('the whole chain on an XRootD storage element', () => {
  const se = needsXrootd();
  let db: Database;
  let data: DataDoc[];
  const base = `/chain-${process.pid}`;

  const onSe = (url: string) => join(se.data, parseRootUrl(url).path);

  beforeAll(async () => {
    if (se.data === '/nonexistent') return;
    db = await databaseWithJobs(3, 'sechain');
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
    data = await completedData(
      context(db, 'se-site', backend, 4, { storage: `${se.url}/${base}`, lines: 'se = TEST-SE\n' }),
    );
  }, 180_000);

  it('stages every output to the SE, and each file in the catalogue has an LFN, a uuid GUID, the SE adler32 and a replica', async () => {
    const files = data.flatMap((doc) => doc.files);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(file.lfn).toMatch(/^\/enq\/PartialPo210\/\d+\/\d+\/[^/]+$/);
      expect(file.guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(file.replicas).toEqual([{ se: 'TEST-SE', url: `${se.url}/${base}${file.lfn}` }]);
      expect(await remoteFile(file.replicas[0]?.url ?? '')).toEqual({ size: file.size, adler32: file.adler32 });
    }
  });

  it('grab fetches the label from the SE and verifies it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-grab-se-'));
    const grabbed = await gaspOn(db, ['grab', '--label', 'enq', '--dir', dir]);
    expect(grabbed.code, grabbed.stderr).toBe(0);
    for (const file of data.flatMap((doc) => doc.files))
      expect(readFileSync(join(dir, file.name))).toEqual(readFileSync(onSe(file.url)));
  });

  it('verify finds a file deleted behind gasp’s back and one corrupted in place; delete --purge-storage removes the rest', async () => {
    const [gone, corrupt, ...rest] = data.flatMap((doc) => doc.files);
    if (gone === undefined || corrupt === undefined) throw new Error('the chain made fewer than two files');
    rmSync(onSe(gone.url));
    const bytes = readFileSync(onSe(corrupt.url));
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    writeFileSync(onSe(corrupt.url), bytes);

    const verified = await gaspOn(db, ['verify', '--label', 'enq']);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(gone.name);
    expect(verified.stdout).toContain(corrupt.name);
    expect(verified.stdout).toMatch(/missing/i);
    expect(verified.stdout).toMatch(/adler32|checksum/i);

    const preview = await gaspOn(db, ['delete', '--label', 'enq', '--purge-storage']);
    expect(preview.code).toBe(0);
    for (const file of rest) expect(existsSync(onSe(file.url))).toBe(true);
    const deleted = await gaspOn(db, ['delete', '--label', 'enq', '--purge-storage', '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    for (const file of [corrupt, ...rest]) expect(await statFile(file.url)).toBeUndefined();
  });
});

describe('gasp demo --storage root', () => {
  needsXrootd();

  it('runs the chain against its own XRootD storage element and fetches a label back from it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-demo-root-'));
    // the demo's SE runs as the xrootd user when the tests run as root: it must be able to enter the folder
    chmodSync(dir, 0o755);
    const demo = await runGasp(['demo', '--storage', 'root', '--no-keep', '--dir', join(dir, 'demo')]);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/outputs: root:\/\/127\.0\.0\.1:\d+\/\/snoplus;/);
    expect(demo.stdout).toMatch(
      /in the catalogue, \S+: lfn \/fixture-po210\/\S+, guid [0-9a-f-]{36}, adler32 [0-9a-f]{8}/,
    );
    expect(demo.stdout).toContain('grab fixture-po210: 2 fetched, 0 already here, 0 failed');
  }, 120_000);
});
