import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { lfnOf } from '../src/model/data.js';
import type { DataDoc, DataFile, JobDoc } from '../src/model/documents.js';
import { Adler32 } from '../src/storage/adler32.js';
import { listFolders, remoteAdler32s, removeFiles } from '../src/storage/xrdfs-session.js';
import { copyFile } from '../src/storage/xrootd.js';
import { gaspOn, runGasp } from './support/cli.js';
import { couchSection } from './support/couch.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { databaseWithJobs, jobs } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const MODULE = 'PartialPo210';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A database of `n` completed passes (runs 1…n, pass 1), of label `enq` unless `labels` says otherwise by run. */
async function completed(n: number, prefix: string, labels: Record<number, string> = {}): Promise<Database> {
  const db = await databaseWithJobs(n, prefix);
  const docs = (await jobs(db)).map((doc): JobDoc => ({
    ...doc,
    passes: doc.passes.map((pass) => ({ ...pass, status: 'completed', label: labels[doc.run] ?? pass.label })),
  }));
  await db.bulkDocs(docs);
  return db;
}

/** A file's bytes and what a manifest or data document records of them. */
function content(text: string) {
  const bytes = Buffer.from(text.repeat(50));
  return { bytes, size: bytes.length, adler32: new Adler32().update(bytes).digest(), sha256: sha256(bytes) };
}

/** Puts a file on the SE below `root` at its pass's folder; returns its URL and what is recorded of it. */
async function onSe(
  se: { url: string },
  root: string,
  pass: { label: string; run: number },
  name: string,
  text: string,
): Promise<{ url: string; lfn: string } & ReturnType<typeof content>> {
  const data = content(text);
  const local = join(mkdtempSync(join(tmpdir(), 'gasp-verify-')), name);
  writeFileSync(local, data.bytes);
  const lfn = lfnOf({ label: pass.label, module: MODULE, run: pass.run, pass: 1 }, name);
  const url = `${se.url}//${root}${lfn}`;
  await copyFile(local, url);
  return { url, lfn, ...data };
}

/** A data document naming these files (in the DataDoc shape, written directly). */
async function record(
  db: Database,
  pass: { label: string; run: number },
  files: ReadonlyArray<{ url: string; lfn: string; size: number; adler32: string; sha256: string }>,
): Promise<string> {
  const id = `data:${MODULE}:${pass.run}:1:ntuple`;
  const doc: DataDoc = {
    _id: id,
    type: 'data',
    module: MODULE,
    run: pass.run,
    pass: 1,
    label: pass.label,
    data_type: 'ntuple',
    files: files.map((file, subjob): DataFile => ({
      subjob,
      name: file.lfn.split('/').at(-1) ?? '',
      lfn: file.lfn,
      guid: `00000000-0000-4000-8000-${String(subjob).padStart(12, '0')}`,
      size: file.size,
      adler32: file.adler32,
      sha256: file.sha256,
      events: 10,
      url: file.url,
      replicas: [{ se: 'TEST-SE', url: file.url }],
    })),
  };
  await db.put(doc);
  return id;
}

/** Changes one byte of a file in place: the same size, another checksum. */
function corrupt(path: string): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from('X'), 0, 1, 7);
  closeSync(fd);
}

/** A config naming the database and a site whose storage is `storage` and whose job folders are under `workdir`. */
function siteConfig(db: Database, storage: string, workdir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-verify-site-'));
  writeFileSync(
    join(dir, 'here.ini'),
    `name = here\nbackend = local\nstorage = ${storage}\nse = TEST-SE\n[local]\nworkdir = ${workdir}\n[rat]\n7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}\n`,
  );
  writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = here.ini\n`);
  return join(dir, 'gasp.cfg');
}

const lines = (text: string) => text.trim().split('\n');
const dataDoc = async (db: Database, id: string) => db.get<DataDoc>(id);

describe('gasp verify against a real storage element', () => {
  const se = needsXrootd();

  it('finds a file deleted behind its back, one corrupted in place and files no document names; --yes marks the missing replica, registers the one matching its manifest and leaves the rest reported', async () => {
    const db = await completed(3, 'verify');
    const root = `verify-${randomBytes(4).toString('hex')}`;
    const [run1, run2, run3] = [1, 2, 3].map((run) => ({ label: 'enq', run }));
    const good = await onSe(se, root, run1!, 'good.root', 'good ');
    const gone = await onSe(se, root, run1!, 'gone.root', 'gone ');
    const stray = await onSe(se, root, run1!, 'stray.root', 'stray ');
    const bad = await onSe(se, root, run2!, 'bad.root', 'bad ');
    const found = await onSe(se, root, run3!, 'found.root', 'found ');
    const doc1 = await record(db, run1!, [good, gone]);
    await record(db, run2!, [bad]);
    rmSync(join(se.data, root, gone.lfn));
    corrupt(join(se.data, root, bad.lfn));
    // the job folder of run 3's pass: its manifest recorded found.root as it was staged
    const workdir = mkdtempSync(join(tmpdir(), 'gasp-verify-jobs-'));
    const jobFolder = join(workdir, 'enq', MODULE, '3', 'p1', 's0-abcdef12');
    mkdirSync(jobFolder, { recursive: true });
    const output = { data_type: 'ntuple', file: 'found.root', size: found.size, adler32: found.adler32 };
    writeFileSync(
      join(jobFolder, 'manifest.json'),
      JSON.stringify({ exit_code: 0, outputs: [{ ...output, sha256: found.sha256, events: 10, url: found.url }] }),
    );
    const config = siteConfig(db, `${se.url}//${root}`, workdir);
    const badSum = content('bad ').adler32;

    // without the site: folders only where replicas are, no manifests
    const bare = await gaspOn(db, ['verify', '--label', 'enq']);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toContain(`    ${stray.url}: no manifest read (run with -c on the site that ran its jobs)`);
    expect(bare.stdout).not.toContain(found.url);

    const seq = (await db.info()).update_seq;
    const looked = await runGasp(['verify', '--label', 'enq', '-c', config]);
    expect(looked.stderr).toBe('');
    expect(looked.code).toBe(1);
    expect(lines(looked.stdout)).toEqual([
      'verify: 3 passes, 2 data documents, 3 replicas looked for: 1 as recorded',
      '  missing: 1 (--yes marks them missing)',
      `    ${gone.url}: not on storage`,
      '  size or checksum mismatch: 1 (reported, never repaired)',
      expect.stringMatching(new RegExp(`^    ${bad.url}: adler32 [0-9a-f]{8} on storage, ${badSum} recorded$`)),
      '  unregistered: 2 (1 matches its manifest: --yes registers it)',
      ...[
        `    ${found.url}: matches its manifest (subjob 0)`,
        `    ${stray.url}: no manifest of its pass names it`,
      ].sort(),
      'nothing changed: add --yes to mark 1 replica missing and register 1 file',
      'verify: 4 problems found',
    ]);
    expect((await db.info()).update_seq).toBe(seq);

    const repaired = await runGasp(['verify', '--label', 'enq', '-c', config, '--yes']);
    expect(repaired.code).toBe(1);
    expect(lines(repaired.stdout).slice(-2)).toEqual([
      'verify: marked 1 replica missing, registered 1 file; recorded in the audit',
      'verify: 2 problems left',
    ]);
    const marked = (await dataDoc(db, doc1)).files.map((file) => [file.name, file.replicas[0]?.missing]);
    expect(marked).toEqual([
      ['good.root', undefined],
      ['gone.root', expect.stringMatching(/^\d{4}-\d\d-\d\dT/)],
    ]);
    const registered = await dataDoc(db, `data:${MODULE}:3:1:ntuple`);
    expect(registered).toMatchObject({ label: 'enq', module: MODULE, run: 3, pass: 1, data_type: 'ntuple' });
    expect(registered.files).toEqual([
      {
        subjob: 0,
        name: 'found.root',
        lfn: found.lfn,
        guid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        size: found.size,
        adler32: found.adler32,
        sha256: found.sha256,
        events: 10,
        url: found.url,
        replicas: [{ se: 'TEST-SE', url: found.url }],
      },
    ]);
    const audit = await runGasp(['audit', '-n', '1', '-c', config]);
    expect(audit.stdout).toMatch(
      / verify --label enq: marked 1 replica missing, registered 1 file; 2 problems left\n$/,
    );

    const again = await runGasp(['verify', '--label', 'enq', '-c', config]);
    expect(again.code).toBe(1);
    expect(lines(again.stdout)).toEqual([
      'verify: 3 passes, 3 data documents, 3 replicas looked for: 2 as recorded',
      '  size or checksum mismatch: 1 (reported, never repaired)',
      expect.stringContaining(`    ${bad.url}: adler32 `),
      '  unregistered: 1',
      `    ${stray.url}: no manifest of its pass names it`,
      '  1 replica marked missing before, not looked for again',
      'verify: 2 problems found',
    ]);
    const clean = await runGasp(['verify', '--label', 'enq', '--run', '3', '-c', config, '--json']);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ passes: 1, copies: 1, ok: 1, missing: [], unregistered: [] });
  });

  it('says in one line that a storage element does not answer, and checks nothing there', async () => {
    const db = await completed(1, 'verify-down');
    const url = `root://127.0.0.1:1//nowhere/enq/${MODULE}/1/1/x.root`;
    await record(db, { label: 'enq', run: 1 }, [{ url, lfn: `/enq/${MODULE}/1/1/x.root`, ...content('x') }]);
    const result = await gaspOn(db, ['verify', '--label', 'enq']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(lines(result.stdout).filter((line) => line.includes('127.0.0.1:1'))).toEqual([
      expect.stringMatching(
        /^ {2}unreachable: root:\/\/127\.0\.0\.1:1: storage element unreachable \([^)\n]*\); 1 replica there not checked$/,
      ),
    ]);
  });
});

describe('gasp verify of folders here and of copy-command storage', () => {
  it("reads file:// replicas to check them, finds one gone and one changed, and says a copy command's URL cannot be checked", async () => {
    const db = await completed(1, 'verify-here');
    const folder = join(mkdtempSync(join(tmpdir(), 'gasp-verify-here-')), 'enq', MODULE, '1', '1');
    mkdirSync(folder, { recursive: true });
    const here = (name: string, text: string) => {
      writeFileSync(join(folder, name), content(text).bytes);
      return { url: `file://${join(folder, name)}`, lfn: `/enq/${MODULE}/1/1/${name}`, ...content(text) };
    };
    const files = [here('kept.root', 'kept '), here('gone.root', 'gone '), here('changed.root', 'changed ')];
    const remote = {
      url: `gsiftp://se.example.org/snoplus/enq/${MODULE}/1/1/far.root`,
      lfn: `/enq/${MODULE}/1/1/far.root`,
      ...content('far '),
    };
    await record(db, { label: 'enq', run: 1 }, [...files, remote]);
    rmSync(join(folder, 'gone.root'));
    corrupt(join(folder, 'changed.root'));
    const result = await gaspOn(db, ['verify', '--label', 'enq', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      ok: number;
      missing: Array<{ url: string }>;
      mismatched: Array<{ url: string; detail: string }>;
      unchecked: Array<{ url: string; detail: string }>;
    };
    expect(report.ok).toBe(1);
    expect(report.missing.map((problem) => problem.url)).toEqual([files[1]?.url]);
    expect(report.mismatched).toEqual([
      { url: files[2]?.url, detail: expect.stringMatching(/^adler32 [0-9a-f]{8} on storage, [0-9a-f]{8} recorded$/) },
    ]);
    expect(report.unchecked).toEqual([
      { url: remote.url, detail: 'put there by a copy command: gasp cannot check it' },
    ]);
  });
});

describe('xrdfs sessions', () => {
  const se = needsXrootd();

  it('list, checksum and remove many paths through one xrdfs, a path not there being no error, and a path the session cannot take through an xrdfs of its own', async () => {
    const root = `session-${randomBytes(4).toString('hex')}`;
    const a = await onSe(se, root, { label: 'enq', run: 1 }, 'a.root', 'a ');
    const odd = await onSe(se, root, { label: 'enq', run: 1 }, "it's.root", 'odd ');
    const folder = `/${root}/enq/${MODULE}/1/1`;
    const listed = await listFolders(se.url, [folder, `/${root}/nowhere`]);
    expect(
      listed
        .get(folder)
        ?.map((file) => file.path)
        .sort(),
    ).toEqual([`/${root}${odd.lfn}`, `/${root}${a.lfn}`].sort());
    expect(listed.get(`/${root}/nowhere`)).toEqual([]);
    const paths = [`/${root}${a.lfn}`, `/${root}${odd.lfn}`, `${folder}/none.root`];
    expect([...(await remoteAdler32s(se.url, paths)).values()]).toEqual([a.adler32, odd.adler32, undefined]);
    expect([...(await removeFiles(se.url, paths)).values()]).toEqual([undefined, undefined, undefined]);
    expect(paths.map((path) => existsSync(join(se.data, path)))).toEqual([false, false, false]);
  });
});

describe('gasp delete --purge-storage on a storage element', () => {
  const se = needsXrootd();

  it('says how many files it would remove and where, then removes only those the selected documents name, leaving other labels alone', async () => {
    const db = await completed(2, 'purge', { 2: 'keep' });
    const root = `purge-${randomBytes(4).toString('hex')}`;
    const mine = [
      await onSe(se, root, { label: 'enq', run: 1 }, 'a.root', 'a '),
      await onSe(se, root, { label: 'enq', run: 1 }, 'b.root', 'b '),
    ];
    const theirs = await onSe(se, root, { label: 'keep', run: 2 }, 'c.root', 'c ');
    const here = join(mkdtempSync(join(tmpdir(), 'gasp-purge-')), 'd.root');
    writeFileSync(here, content('d ').bytes);
    const local = { url: `file://${here}`, lfn: `/enq/${MODULE}/1/1/d.root`, ...content('d ') };
    const id = await record(db, { label: 'enq', run: 1 }, [...mine, local]);
    const kept = await record(db, { label: 'keep', run: 2 }, [theirs]);
    const onDisk = (file: { lfn: string }) => existsSync(join(se.data, root, file.lfn));

    const preview = await gaspOn(db, ['delete', '--label', 'enq', '--purge-storage']);
    expect(preview.code).toBe(0);
    expect(lines(preview.stdout).slice(-2)).toEqual([
      `delete --purge-storage: would remove 3 files in storage: 2 on TEST-SE (${se.url}), 1 on this machine (file://)`,
      'nothing changed: add --yes to delete this pass',
    ]);
    expect([...mine, theirs].map(onDisk)).toEqual([true, true, true]);
    expect(existsSync(here)).toBe(true);

    const purged = await gaspOn(db, ['delete', '--label', 'enq', '--purge-storage', '--yes']);
    expect(purged.code).toBe(0);
    expect(lines(purged.stdout).slice(-3)).toEqual([
      'delete: changed 1 of 1 pass; recorded in the audit',
      `delete: removed 3 files in storage: 2 on TEST-SE (${se.url}), 1 on this machine (file://)`,
      'delete: removed 1 data document',
    ]);
    expect([...mine, theirs].map(onDisk)).toEqual([false, false, true]);
    expect(existsSync(here)).toBe(false);
    await expect(db.get(id)).rejects.toThrow();
    expect((await dataDoc(db, kept)).files).toHaveLength(1);
  });

  it('keeps a pass and its data documents when its storage element does not answer, saying so in one line, and exits 1', async () => {
    const db = await completed(1, 'purge-down');
    const url = `root://127.0.0.1:1//nowhere/enq/${MODULE}/1/1/x.root`;
    // its other file is on an SE that answers: removed, and marked so in the document kept
    const reachable = await onSe(
      se,
      `purge-${randomBytes(4).toString('hex')}`,
      { label: 'enq', run: 1 },
      'y.root',
      'y ',
    );
    const down = { url, lfn: `/enq/${MODULE}/1/1/x.root`, ...content('x') };
    const id = await record(db, { label: 'enq', run: 1 }, [down, reachable]);
    const result = await gaspOn(db, ['delete', '--label', 'enq', '--purge-storage', '--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(lines(result.stdout).slice(-3)).toEqual([
      'delete: changed 0 of 1 pass; 1 left as it is: its storage files could not all be removed; recorded in the audit',
      `delete: removed 1 file in storage: 1 on TEST-SE (${se.url})`,
      expect.stringMatching(
        /^root:\/\/127\.0\.0\.1:1: storage element unreachable \([^)\n]*\); 1 file on TEST-SE \(root:\/\/127\.0\.0\.1:1\) not removed: 1 pass left as it is, with its data documents$/,
      ),
    ]);
    expect((await dataDoc(db, id)).files.map((file) => file.replicas)).toEqual([
      [{ se: 'TEST-SE', url }],
      [{ se: 'TEST-SE', url: reachable.url, missing: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }],
    ]);
    expect((await jobs(db))[0]?.passes[0]?.status).toBe('completed');
  });
});
