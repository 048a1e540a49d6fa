import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { grabFiles, type GrabEvent } from '../src/grab/grab.js';
import { listGrabFiles } from '../src/grab/list.js';
import type { DataDoc, DataFile, JobDoc, Replica } from '../src/model/documents.js';
import { Adler32 } from '../src/storage/adler32.js';
import { copyFile } from '../src/storage/xrootd.js';
import { GASP_BIN, runGasp, type CliResult } from './support/cli.js';
import { couchSection } from './support/couch.js';
import { folderWith } from './support/files.js';
import { databaseWithJobs, jobs } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const scratch = (what: string) => mkdtempSync(join(tmpdir(), `gasp-grab-root-${what}-`));
const DOWN = 'root://127.0.0.1:1';

describe('gasp grab from root://', () => {
  const se = needsXrootd();
  let db: Database;
  let job: JobDoc;
  /** A folder on the SE of this run's own. */
  const top = `/grab-root-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    // passes that ended; their data documents are written by each test, naming files put on the SE
    db = await databaseWithJobs(1, 'grab-root');
    const [doc] = await jobs(db);
    if (doc === undefined) throw new Error('no job');
    await db.put({ ...doc, passes: doc.passes.map((pass) => ({ ...pass, status: 'completed' as const })) });
    job = doc;
  });

  /** Puts these bytes on the SE at `path` (below this run's folder) with xrdcp; what a data document records of them. */
  async function onSe(path: string, bytes: Buffer): Promise<Omit<DataFile, 'replicas' | 'url' | 'subjob'>> {
    const local = join(scratch('put'), 'file');
    writeFileSync(local, bytes);
    await copyFile(local, `${se.url}/${top}${path}`);
    const name = path.split('/').at(-1) ?? '';
    return {
      name,
      lfn: `/enq/${job.module}/${job.run}/1/${name}`,
      guid: randomUUID(),
      size: bytes.length,
      adler32: new Adler32().update(bytes).digest(),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      events: 10,
    };
  }

  const replica = (se_: string, path: string, server = se.url): Replica => ({
    se: se_,
    url: `${server}/${top}${path}`,
  });

  /** The pass's data document names these files (replaced whole, so each test says what the catalogue holds). */
  async function record(files: Array<Omit<DataFile, 'replicas' | 'url' | 'subjob'> & { replicas: Replica[] }>) {
    const id = `data:${job.module}:${job.run}:1:ntuple`;
    const stored = await db.get<DataDoc>(id).catch(() => undefined);
    const doc: DataDoc = {
      _id: id,
      ...(stored?._rev !== undefined && { _rev: stored._rev }),
      type: 'data',
      module: job.module,
      run: job.run,
      pass: 1,
      label: 'enq',
      data_type: 'ntuple',
      files: files.map((file, subjob) => ({ ...file, subjob, url: file.replicas[0]?.url ?? '' })),
    };
    await db.put(doc);
  }

  const grab = (args: string[], config = ''): Promise<CliResult> => {
    const dir = folderWith({ 'gasp.cfg': `${couchSection(db.name)}${config}` });
    return runGasp(['grab', '--label', 'enq', ...args, '-c', join(dir, 'gasp.cfg')], { cwd: dir });
  };
  const manifestUrls = (dir: string) =>
    Object.fromEntries(
      (
        JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Array<{ file: string; url: string }> }
      ).files.map(({ file, url }) => [file, url]),
    );

  it('fetches root:// files with xrdcp, verifies them, and says in the manifest which copy each came from', async () => {
    const bytes = [randomBytes(300_000), randomBytes(1_000)];
    const files = [await onSe('/plain/a.root', bytes[0] as Buffer), await onSe('/plain/b.root', bytes[1] as Buffer)];
    await record(files.map((file) => ({ ...file, replicas: [replica('SE', `/plain/${file.name}`)] })));
    const dir = scratch('plain');
    const result = await grab(['-d', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^grab: 2 fetched \(301\.0 kB in .*\), 0 already present, 0 failed; /m);
    expect(readFileSync(join(dir, 'a.root'))).toEqual(bytes[0]);
    expect(readFileSync(join(dir, 'b.root'))).toEqual(bytes[1]);
    expect(manifestUrls(dir)).toEqual({
      'a.root': `${se.url}/${top}/plain/a.root`,
      'b.root': `${se.url}/${top}/plain/b.root`,
    });
  });

  it('refuses a file corrupted on the SE, keeps no copy of it, and exits 1; adler32 alone catches it where no sha256 was recorded', async () => {
    const good = randomBytes(50_000);
    const file = await onSe('/corrupt/c.root', good);
    const other = await onSe('/corrupt/d.root', good);
    await record([
      { ...file, replicas: [replica('SE', '/corrupt/c.root')] },
      { ...other, sha256: '', replicas: [replica('SE', '/corrupt/d.root')] },
    ]);
    // same size, other bytes, changed behind gasp's back on the SE itself
    const bad = Buffer.from(good.map((byte, at) => (at === 1000 ? byte ^ 0x01 : byte)));
    writeFileSync(join(se.data, top, 'corrupt', 'c.root'), bad);
    writeFileSync(join(se.data, top, 'corrupt', 'd.root'), bad);
    const dir = scratch('corrupt');
    const result = await grab(['-d', dir]);
    expect(result.code).toBe(1);
    // xrdcp checks the recorded adler32 as it writes: the first check a corrupted copy fails
    expect(result.stdout).toMatch(
      /^ {2}FAILED c\.root: adler32 differs from the recorded [0-9a-f]{8} \(xrdcp's check\)$/m,
    );
    expect(result.stdout).toContain(
      `  FAILED d.root: adler32 differs from the recorded ${file.adler32} (xrdcp's check)\n`,
    );
    expect(readdirSync(dir).filter((name) => name.endsWith('.root') || name.endsWith('.part'))).toEqual([]);
    expect(readFileSync(join(dir, 'catalogue.txt'), 'utf8')).toBe('');
  });

  it('takes the next copy when the first SE does not answer or lacks the file, saying which it passed over and why', async () => {
    const names = ['e1.root', 'e2.root', 'e3.root'];
    const bytes = names.map(() => randomBytes(20_000));
    const files = [];
    for (const [at, name] of names.entries()) files.push(await onSe(`/second/${name}`, bytes[at] as Buffer));
    const copies = (name: string) => [
      replica('DOWN-SE', `/second/${name}`, DOWN),
      replica('EMPTY-SE', `/nowhere/${name}`),
      replica('SE', `/second/${name}`),
    ];
    await record(files.map((file) => ({ ...file, replicas: copies(file.name) })));
    const dir = scratch('second');
    const started = Date.now();
    const result = await grab(['-d', dir, '--parallel', '1']);
    expect(result.code).toBe(0);
    const passedOver = (name: string, down: string) =>
      new RegExp(
        `^fetched ${name.replace('.', '\\.')} \\(20\\.0 kB\\) from SE \\(passed over DOWN-SE: ${DOWN}/${top}/second/${name}: ${down}; EMPTY-SE: ${se.url}/${top}/nowhere/${name}: copy failed: .*\\) \\[\\d/3\\]$`,
        'm',
      );
    expect(result.stdout).toMatch(passedOver('e1.root', 'storage element unreachable \\(.*\\)'));
    // an SE that did not answer is not asked again for the grab's other files: that takes seconds each time
    for (const name of ['e2.root', 'e3.root'])
      expect(result.stdout).toMatch(passedOver(name, `not tried, ${DOWN} did not answer earlier in this grab`));
    expect(Date.now() - started).toBeLessThan(25_000);
    for (const [at, name] of names.entries()) expect(readFileSync(join(dir, name))).toEqual(bytes[at]);
    expect(manifestUrls(dir)).toEqual(
      Object.fromEntries(names.map((name) => [name, `${se.url}/${top}/second/${name}`])),
    );

    // when no copy can be fetched, the reason names each and why
    await record([{ ...files[0], replicas: copies('e1.root').slice(0, 2) } as Parameters<typeof record>[0][0]]);
    const none = await grab(['-d', scratch('none')]);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(
      new RegExp(
        `^ {2}FAILED e1\\.root: no copy could be fetched: DOWN-SE: ${DOWN}/${top}/second/e1\\.root: storage element unreachable \\(.*\\); EMPTY-SE: ${se.url}/${top}/nowhere/e1\\.root: copy failed: .*$`,
        'm',
      ),
    );
  });

  it('skips a copy marked missing, and fails a file with no other copy saying so', async () => {
    const bytes = randomBytes(10_000);
    const file = await onSe('/marked/f.root', bytes);
    // the marked copy's path does not exist: trying it would show as a copy passed over
    const gone = { ...replica('GONE-SE', '/nowhere/f.root'), missing: '2026-11-30T00:00:00Z' };
    await record([{ ...file, replicas: [gone, replica('SE', '/marked/f.root')] }]);
    const result = await grab(['-d', scratch('marked')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^fetched f\.root \(10\.0 kB\) \[1\/1\]$/m);
    await record([{ ...file, replicas: [gone] }]);
    const none = await grab(['-d', scratch('marked')]);
    expect(none.stdout).toContain('  FAILED f.root: no copy left to fetch: every replica is marked missing\n');
  });

  it('tries the SEs of --prefer, else of [grab] prefer, first', async () => {
    // one real copy, on "SE-A"; "SE-B" names a path that is not there, so trying it first shows
    const file = await onSe('/prefer/a/g.root', randomBytes(5_000));
    await record([{ ...file, replicas: [replica('SE-A', '/prefer/a/g.root'), replica('SE-B', '/prefer/b/g.root')] }]);
    const plain = await grab(['-d', scratch('prefer')]);
    expect(plain.stdout).toMatch(/^fetched g\.root \(5\.0 kB\) \[1\/1\]$/m);
    const passedOverB =
      /^fetched g\.root \(5\.0 kB\) from SE-A \(passed over SE-B: .*\/prefer\/b\/g\.root: copy failed: .*\) \[1\/1\]$/m;
    expect((await grab(['-d', scratch('prefer'), '--prefer', 'SE-B'])).stdout).toMatch(passedOverB);
    const config = '[grab]\nprefer = SE-B, SE-A\n';
    expect((await grab(['-d', scratch('prefer')], config)).stdout).toMatch(passedOverB);
    // the option wins over the file
    expect((await grab(['-d', scratch('prefer'), '--prefer', 'SE-A'], config)).stdout).toMatch(
      /^fetched g\.root \(5\.0 kB\) \[1\/1\]$/m,
    );
    const bad = await grab(['--prefer', 'SE A']);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      '--prefer: "SE A" is not a storage element name (expected a comma list of storage element names, such as SFU-SE, RAL-SE)',
    ]);
    const badFile = await grab([], '[grab]\nprefer = SE A\n');
    expect(badFile.code).toBe(2);
    expect(badFile.stderr.trim()).toMatch(/: \[grab\] prefer: "SE A" is not a storage element name \(/);
    expect(badFile.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('resumes an interrupted grab: files verified before it was killed are not fetched again', async () => {
    const names = ['h1.root', 'h2.root', 'h3.root', 'h4.root'];
    const files = [];
    for (const name of names) files.push(await onSe(`/resume/${name}`, randomBytes(4_000_000)));
    await record(files.map((file) => ({ ...file, replicas: [replica('SE', `/resume/${file.name}`)] })));
    const dir = scratch('resume');
    const config = join(folderWith({ 'gasp.cfg': couchSection(db.name) }), 'gasp.cfg');
    // killed as soon as it says it has the first file
    const child = spawn(
      process.execPath,
      [GASP_BIN, 'grab', '--label', 'enq', '-d', dir, '--parallel', '1', '-c', config],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, GASP_CONFIG: undefined },
      },
    );
    let said = '';
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        said += chunk;
        if (said.includes('fetched h1.root')) child.kill('SIGKILL');
      });
      child.once('close', () => resolve());
    });
    expect(said).toContain('fetched h1.root');
    expect(existsSync(join(dir, 'h4.root'))).toBe(false);
    // the first copy is gone from the SE now: only a grab that does not fetch it again can succeed
    rmSync(join(se.data, top, 'resume', 'h1.root'));
    const again = await grab(['-d', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('present h1.root (verified, not fetched again)');
    expect(again.stdout).toMatch(/0 failed; catalogue/);
    for (const name of names) expect(existsSync(join(dir, name))).toBe(true);
    expect(readdirSync(dir).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('reports the bytes of a root:// download as they arrive, not only once it is done', async () => {
    const file = await onSe('/bytes/big.root', randomBytes(24_000_000));
    await record([{ ...file, replicas: [replica('SE', '/bytes/big.root')] }]);
    const { files } = await listGrabFiles(db, { label: 'enq', statuses: ['completed'] });
    const events: GrabEvent[] = [];
    const result = await grabFiles(files, {
      dir: scratch('bytes'),
      parallel: 1,
      watchMs: 5,
      onEvent: (event) => events.push(event),
    });
    expect(result.failed).toEqual([]);
    const counts = events.flatMap((event) => (event.kind === 'bytes' ? [event.bytes] : []));
    expect(counts.length).toBeGreaterThan(2);
    expect(counts.every((count) => count > 0)).toBe(true);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(24_000_000);
    expect(events.at(-1)?.kind).toBe('fetched');
  });
});
