import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import { JOB_WRAPPER, jobFolder, prepareJob } from '../src/backends/prepare.js';
import type { ClientContext } from '../src/client/context.js';
import { runCycle } from '../src/client/cycle.js';
import { readManifest } from '../src/backends/prepare.js';
import { verifyManifest } from '../src/client/record.js';
import type { Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import type { Manifest } from '../src/model/manifest.js';
import type { DataDoc, JobDoc, Pass } from '../src/model/documents.js';
import { loadSite, type StorageTool } from '../src/sites/site.js';
import { adler32OfFile } from '../src/storage/adler32.js';
import { checkStored } from '../src/storage/check.js';
import { startLocalSe } from '../src/storage/local-se.js';
import { copyFile, listFiles, remoteFile, StorageUnavailableError } from '../src/storage/xrootd.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { folderWith } from './support/files.js';
import { bipo214Job, context, databaseWithJobs, jobs, runUntilEnded } from './support/jobs.js';
import { captureLog, WARN } from './support/log.js';
import { needsXrootd } from './support/xrootd.js';
import { finished, waitFor } from './support/backends.js';

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');

const FILE = 'ScintBipo214_r7_p1_s0.root';
const BELOW = `wrap/ScintBipo214/7/1`;

/** A job folder whose site stages to `storage` (root://) with `tool`, ready for the wrapper. */
async function wrapperJob(storage: string, tool: StorageTool = 'xrootd'): Promise<string> {
  const env = join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh');
  const site = folderWith({
    'se.ini': `backend = local\nstorage = ${storage}\nstorage_tool = ${tool}\n[rat]\n7.0.8 = ${env}\n`,
  });
  const job = await prepareJob(loadSite(join(site, 'se.ini')), bipo214Job(), mkdtempSync(join(tmpdir(), 'gasp-work-')));
  return job.workdir;
}

interface Run {
  code: number | null;
  manifest: Manifest;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the wrapper in a job folder, as a batch node would. */
function runWrapper(workdir: string, env: NodeJS.ProcessEnv = {}): Run {
  const started = Date.now();
  const run = spawnSync(JOB_WRAPPER, ['spec.json'], {
    cwd: workdir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const manifest = JSON.parse(readFileSync(join(workdir, 'manifest.json'), 'utf8')) as Manifest;
  return { code: run.status, manifest, stdout: run.stdout, stderr: run.stderr, ms: Date.now() - started };
}

/** A folder holding an executable `name` with this bash text, to put first on PATH. */
function standIn(name: string, script: string): string {
  const dir = folderWith({ [name]: `#!/bin/bash\n${script}\n` });
  chmodSync(join(dir, name), 0o755);
  return dir;
}

const onPath = (dir: string) => ({ PATH: `${dir}:${process.env.PATH ?? ''}` });

describe('the job wrapper staging to a root:// storage element', () => {
  const se = needsXrootd();
  /** A fresh folder on the SE for each test, so runs never see each other's files. */
  const base = () => `staging-${randomUUID().slice(0, 8)}`;

  it.each<StorageTool>(['xrootd', 'gfal'])(
    'stages over other bytes an earlier attempt left under the name, with %s',
    async (tool) => {
      const root = base();
      const workdir = await wrapperJob(`${se.url}//${root}`, tool);
      const stored = join(se.data, root, BELOW, FILE);
      const earlier = join(folderWith({ 'earlier.root': 'an earlier attempt wrote these bytes\n' }), 'earlier.root');
      await copyFile(earlier, `${se.url}//${root}/${BELOW}/${FILE}`);
      const run = runWrapper(workdir);
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(stored)).toEqual(readFileSync(join(workdir, FILE)));
      expect((await listFiles(`${se.url}//${root}`)).map((file) => file.path)).toEqual([`/${root}/${BELOW}/${FILE}`]);
    },
  );

  it.each<StorageTool>(['xrootd', 'gfal'])(
    'stages with %s: the file is on the SE with the adler32 the job computed, no temporary name is left, and the same bytes are not copied again',
    async (tool) => {
      const root = base();
      const workdir = await wrapperJob(`${se.url}//${root}`, tool);
      const first = runWrapper(workdir);
      expect(first.code, first.stderr).toBe(0);
      const url = `${se.url}//${root}/${BELOW}/${FILE}`;
      const [output] = first.manifest.outputs;
      expect(output?.url).toBe(url);
      expect(output?.adler32).toBe(await adler32OfFile(join(workdir, FILE)));
      expect(await remoteFile(url)).toEqual({ size: output?.size, adler32: output?.adler32 });
      expect((await listFiles(`${se.url}//${root}`)).map((file) => file.path)).toEqual([`/${root}/${BELOW}/${FILE}`]);
      expect(first.stdout).toContain(`gasp-job: staged ${url}`);

      // the same bytes again: the file on the SE is left alone (the same inode: no copy, no rename)
      const stored = join(se.data, root, BELOW, FILE);
      const before = statSync(stored);
      const again = runWrapper(workdir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(
        `gasp-job: ${url} is there already with the same size and adler32: not copied again`,
      );
      expect(statSync(stored)).toMatchObject({ ino: before.ino, mtimeMs: before.mtimeMs });
    },
  );

  it('fails the job (staging, exit 30) naming the URL and both checksums when the copy on the SE holds other bytes, and leaves no temporary name', async () => {
    const root = base();
    const workdir = await wrapperJob(`${se.url}//${root}`);
    // a broken transfer: as many bytes as the file, all zero
    const broken = standIn(
      'xrdcp',
      'source="${@: -2:1}"; zeros=$(mktemp); head -c "$(stat -c %s "$source")" /dev/zero > "$zeros"\nexec /usr/bin/xrdcp --force --nopbar "$zeros" "${@: -1}"',
    );
    const run = runWrapper(workdir, onPath(broken));
    const wrote = await adler32OfFile(join(workdir, FILE));
    const size = statSync(join(workdir, FILE)).size;
    const zeros = await adler32OfZeros(size);
    expect(run).toMatchObject({ code: 30, manifest: { exit_code: 30, failed_stage: 'staging' } });
    expect(run.manifest.error).toBe(
      `${se.url}//${root}/${BELOW}/${FILE}: the storage element holds ${size} bytes, adler32 ${zeros}, the job wrote ${size} bytes, adler32 ${wrote}`,
    );
    expect(await listFiles(`${se.url}//${root}`)).toEqual([]);
  });

  it('fails the job (exit 30) when the copy is corrupted on the SE between the copy and the check', async () => {
    const root = base();
    const workdir = await wrapperJob(`${se.url}//${root}`);
    // the real copy, then one byte changed in the folder the SE serves
    const corrupting = standIn(
      'xrdcp',
      `/usr/bin/xrdcp "$@" || exit $?\ndest="\${@: -1}"; printf X | dd of="${se.data}/\${dest#root://*//}" conv=notrunc status=none`,
    );
    const run = runWrapper(workdir, onPath(corrupting));
    expect(run.code).toBe(30);
    expect(run.manifest.error).toMatch(
      new RegExp(
        `^${se.url}//${root}/${BELOW}/${FILE}: the storage element holds \\d+ bytes, adler32 ([0-9a-f]{8}), the job wrote \\d+ bytes, adler32 (?!\\1)[0-9a-f]{8}$`,
      ),
    );
    expect(await listFiles(`${se.url}//${root}`)).toEqual([]);
  });

  it('fails the job (exit 30) at once, in one line naming the URL, when the storage element does not answer', async () => {
    const workdir = await wrapperJob('root://127.0.0.1:1//x');
    const run = runWrapper(workdir);
    expect(run.code).toBe(30);
    expect(run.manifest.error).toMatch(
      /^root:\/\/127\.0\.0\.1:1\/\/x\/wrap\/ScintBipo214\/7\/1\/\S+: storage element unreachable \(.+\)$/,
    );
    expect(run.stderr.split('\n').filter((line) => line.startsWith('gasp-job:'))).toEqual([
      `gasp-job: ${run.manifest.error ?? ''}`,
    ]);
    // XRootD's own retries would wait 8 minutes
    expect(run.ms).toBeLessThan(30_000);
    // a site's own settings win over the wrapper's
    const quick = runWrapper(workdir, { XRD_CONNECTIONRETRY: '1', XRD_CONNECTIONWINDOW: '1' });
    expect(quick.code).toBe(30);
    expect(quick.ms).toBeLessThan(5_000);
  });

  it.each<[StorageTool, string]>([
    ['xrootd', 'xrdfs: command not found (install xrootd-client)'],
    ['gfal', 'gfal-stat: command not found (install gfal2-util-scripts)'],
  ])('fails the job (exit 30) naming the missing %s tool', async (tool, said) => {
    const workdir = await wrapperJob(`${se.url}//${base()}`, tool);
    // a PATH with what the wrapper and the stand-in rat need, and no XRootD or gfal2 tools
    const bare = mkdtempSync(join(tmpdir(), 'gasp-path-'));
    const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], {
      encoding: 'utf8',
    }).stdout.trim();
    symlinkSync(realpathSync(python), join(bare, 'python3'));
    for (const program of ['bash', 'dirname']) symlinkSync(`/usr/bin/${program}`, join(bare, program));
    const run = runWrapper(workdir, { PATH: bare });
    expect(run.code, run.stderr).toBe(30);
    expect(run.manifest.error).toMatch(
      new RegExp(`^${se.url}//staging-\\w+/${BELOW}/${FILE}: ${said.replace(/[()]/g, '\\$&')}$`),
    );
  });
});

/** The adler32 of `size` zero bytes, what the broken stand-in copies. */
function adler32OfZeros(size: number): Promise<string> {
  const zeros = join(folderWith({}), 'zeros');
  writeFileSync(zeros, Buffer.alloc(size));
  return adler32OfFile(zeros);
}

describe('checkStored: a stored copy against what was recorded of it', () => {
  const se = needsXrootd();

  it('says what is wrong with a root:// or file:// copy (missing, size, adler32, sha256), and nothing when it matches', async () => {
    const local = join(folderWith({ 'out.root': 'hello\n' }), 'out.root');
    const url = `${se.url}//check-${randomUUID().slice(0, 8)}/out.root`;
    await copyFile(local, url, url);
    const recorded = { size: 6, adler32: '084b021f', sha256: sha256Of('hello\n') };
    expect(await checkStored(url, recorded)).toBeUndefined();
    expect(await checkStored(`file://${local}`, recorded)).toBeUndefined();
    // the SE prints adler32 without leading zeros in places; the record may too
    expect(await checkStored(url, { size: 6, adler32: '84b021f' })).toBeUndefined();
    expect(await checkStored(url, { ...recorded, size: 7 }, { recordedBy: 'the manifest' })).toBe(
      `${url} has 6 bytes, the manifest says 7`,
    );
    expect(await checkStored(url, { ...recorded, adler32: '00000001' })).toBe(
      `${url} has adler32 084b021f on the storage element, the record says 00000001`,
    );
    expect(await checkStored(`${url}.gone`, recorded)).toBe(`${url}.gone is not in storage`);
    expect(await checkStored(`file://${local}`, { ...recorded, sha256: '0'.repeat(64) })).toBe(
      `file://${local} does not match its sha256 in the record`,
    );
    expect(await checkStored(`file://${local}`, { size: 6, adler32: '00000001' })).toBe(
      `file://${local} does not match its adler32 in the record`,
    );
  });

  it('throws when the SE does not answer, and does not ask an SE again that did not answer earlier in the run', async () => {
    const unreachable = new Set<string>();
    const url = 'root://127.0.0.1:1//x/out.root';
    await expect(checkStored(url, { size: 6 }, { unreachable })).rejects.toThrow(StorageUnavailableError);
    expect([...unreachable]).toEqual(['root://127.0.0.1:1']);
    const started = Date.now();
    await expect(checkStored(`${url}.2`, { size: 6 }, { unreachable })).rejects.toThrow(
      `${url}.2: storage element unreachable (it did not answer earlier in this run)`,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

const CYCLE = { submit: true, monitor: true } as const;
const OUTPUT = 'enq/PartialPo210/1/1/PartialPo210_r1_p1_s0.root';

/** A client whose site stages to `storage` (root://) as the SE named LOCAL-SE, its jobs run by the local backend. */
function rootSiteClient(db: Database, storage: string, log = silentLogger): ClientContext {
  const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
  return { ...context(db, 'se-site', backend, 4, { storage, lines: 'se = LOCAL-SE\n' }), log };
}

async function onlyPass(db: Database): Promise<{ doc: JobDoc; pass: Pass }> {
  const [doc] = await jobs(db);
  const pass = doc?.passes[0];
  if (doc === undefined || pass === undefined) throw new Error('no pass');
  return { doc, pass };
}

describe('the whole chain with root:// storage', () => {
  const se = needsXrootd();

  it('checks the outputs of passes that end in one cycle with xrdfs sessions, not a process for each file', async () => {
    const db = await databaseWithJobs(4, 'staging');
    const storage = `${se.url}//snoplus-${randomUUID().slice(0, 8)}`;
    const ctx = rootSiteClient(db, storage);
    // a stand-in xrdfs first on PATH notes who ran it and how, then runs the real one
    const calls = join(folderWith({}), 'xrdfs-calls');
    const real = spawnSync('which', ['xrdfs'], { encoding: 'utf8' }).stdout.trim();
    const dir = standIn('xrdfs', `echo "$(cat /proc/$PPID/comm) $#" >> ${calls}\nexec ${real} "$@"`);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path ?? ''}`;
    try {
      // the jobs run and end; no cycle monitors them until all four have ended
      await runCycle(ctx, { submit: true, monitor: false });
      for (let waited = 0; (await jobs(db)).length > 0 && waited < 60_000; waited += 200) {
        const manifests = (await jobs(db)).flatMap((doc) =>
          doc.passes.map((pass) => join(jobFolder(ctx.workRoot, doc.module, doc.run, pass, 0), 'manifest.json')),
        );
        if (manifests.every((file) => readManifest(file) !== undefined)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // the wrapper writes its manifest before it cleans up and exits: wait for the backend to see each end
      const ids = (await jobs(db)).flatMap((doc) =>
        doc.passes.flatMap((pass) => (pass.subjobs ?? []).flatMap((subjob) => subjob.backend_id ?? [])),
      );
      expect(ids).toHaveLength(4);
      for (const id of ids) expect(finished(await waitFor(ctx.backend, id, finished))).toBe(true);
      writeFileSync(calls, '');
      await runCycle(ctx, { submit: false, monitor: true });
    } finally {
      process.env.PATH = path;
    }
    expect((await jobs(db)).map((doc) => doc.passes[0]?.status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    // the client's own xrdfs runs: sessions (only the server as argument), one for the listings and one for the checksums
    const byClient = readFileSync(calls, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('node '));
    expect(byClient).toEqual(['node 1', 'node 1']);
  });

  it('completes a pass whose outputs the wrapper staged to the SE; its data document names the root:// copy as its replica, and a copy corrupted behind gasp’s back is reported', async () => {
    const db = await databaseWithJobs(1, 'staging');
    const storage = `${se.url}//snoplus-${randomUUID().slice(0, 8)}`;
    const ctx = rootSiteClient(db, storage);
    const [job] = await runUntilEnded(ctx);
    expect(job?.passes[0]?.status).toBe('completed');
    const data = await db.get<DataDoc>('data:PartialPo210:1:1:ratds');
    const url = `${storage}/${OUTPUT}`;
    const onSe = await remoteFile(url);
    expect(data.files[0]).toMatchObject({
      url,
      lfn: `/${OUTPUT}`,
      replicas: [{ se: 'LOCAL-SE', url }],
      size: onSe?.size,
      adler32: onSe?.adler32,
    });

    const { doc, pass } = await onlyPass(db);
    const manifest = readManifest(join(jobFolder(ctx.workRoot, doc.module, doc.run, pass, 0), 'manifest.json'));
    if (manifest === undefined) throw new Error('no manifest');
    expect(await verifyManifest(manifest)).toBeUndefined();
    const stored = join(se.data, storage.split('//')[2] ?? '', OUTPUT);
    const bytes = readFileSync(stored);
    writeFileSync(stored, Buffer.concat([Buffer.from('X'), bytes.subarray(1)]));
    // later, as corruption comes: XRootD keeps a file's adler32 until its modification time (in seconds) changes
    utimesSync(stored, new Date(), new Date(Date.now() + 60_000));
    expect(await verifyManifest(manifest)).toMatch(
      new RegExp(`^${url} has adler32 [0-9a-f]{8} on the storage element, the manifest says ${onSe?.adler32}$`),
    );
  });

  it('leaves a pass as it is while the SE does not answer the client’s check, saying so in one line, and completes it once the SE answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-se-'));
    let own = await startLocalSe(dir);
    try {
      const db = await databaseWithJobs(1, 'staging');
      const log = captureLog();
      const ctx = rootSiteClient(db, `${own.url}//snoplus`, log.log);
      await runCycle(ctx, { submit: true, monitor: false });
      const id = (await onlyPass(db)).pass.subjobs?.[0]?.backend_id ?? '';
      for (let wait = 0; wait < 100; wait++) {
        if ((await ctx.backend.status([id])).get(id)?.state === 'completed') break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await own.stop();
      await runCycle(ctx, CYCLE);
      const { pass } = await onlyPass(db);
      expect(pass.status).not.toBe('failed');
      expect(pass.subjobs?.[0]?.state).not.toBe('failed');
      const warned = log.lines.filter((line) => line.level === WARN);
      expect(warned.map((line) => line.msg)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${own.url}//snoplus/${OUTPUT}: storage element unreachable \\(.+\\): outputs of 1 ended pass\\(es\\) not checked; they stay as they are until the next cycle$`,
          ),
        ),
      ]);

      // started again on its folder, where the first server left links to its working folder and /proc: not followed
      const owner = statSync(process.cwd()).uid;
      own = await startLocalSe(dir, Number(own.url.split(':').at(-1)));
      expect(statSync(process.cwd()).uid).toBe(owner);
      const [job] = await runUntilEnded(ctx);
      expect(job?.passes[0]?.status).toBe('completed');
    } finally {
      await own.stop();
    }
  });
});
