import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_WRAPPER, prepareJob, type JobToPrepare } from '../src/backends/prepare.js';
import type { Manifest } from '../src/model/manifest.js';
import type { Pass } from '../src/model/documents.js';
import { loadSite, type StorageTool } from '../src/sites/site.js';
import { adler32OfFile } from '../src/storage/adler32.js';
import { listFiles, remoteFile } from '../src/storage/xrootd.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { folderWith } from './support/files.js';
import { INFO } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const FILE = 'ScintBipo214_r7_p1_s0.root';
const BELOW = `wrap/ScintBipo214/7/1`;

/** The fixture module with one output (ratds), named by rat's -o. */
function bipo214(): JobToPrepare {
  const production = INFO.modules.ScintBipo214;
  if (production === undefined) throw new Error('fixture lost ScintBipo214');
  const pass: Pass = {
    pass: 1,
    status: 'submitted',
    rat_version: '7.0.8',
    label: 'wrap',
    priority: 0,
    created: '2026-12-01T00:00:00Z',
    event_mode: 'number',
    amount: { events: 100 },
    template: { fill_volume: 'av' },
    macro_sha256: production.sha256,
    attempts: [],
  };
  return { module: 'ScintBipo214', run: 7, pass, subjob: 0, production };
}

/** A job folder whose site stages to `storage` (root://) with `tool`, ready for the wrapper. */
async function jobFolder(storage: string, tool: StorageTool = 'xrootd'): Promise<string> {
  const env = join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh');
  const site = folderWith({
    'se.ini': `backend = local\nstorage = ${storage}\nstorage_tool = ${tool}\n[rat]\n7.0.8 = ${env}\n`,
  });
  const job = await prepareJob(loadSite(join(site, 'se.ini')), bipo214(), mkdtempSync(join(tmpdir(), 'gasp-work-')));
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
    'stages with %s: the file is on the SE with the adler32 the job computed, no temporary name is left, and the same bytes are not copied again',
    async (tool) => {
      const root = base();
      const workdir = await jobFolder(`${se.url}//${root}`, tool);
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
    const workdir = await jobFolder(`${se.url}//${root}`);
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
    const workdir = await jobFolder(`${se.url}//${root}`);
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
    const workdir = await jobFolder('root://127.0.0.1:1//x');
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
  });

  it.each<[StorageTool, string]>([
    ['xrootd', 'xrdfs: command not found (install xrootd-client)'],
    ['gfal', 'gfal-stat: command not found (install gfal2-util-scripts)'],
  ])('fails the job (exit 30) naming the missing %s tool', async (tool, said) => {
    const workdir = await jobFolder(`${se.url}//${base()}`, tool);
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
