import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { LocalBackend } from '../src/backends/local.js';
import { SlurmBackend } from '../src/backends/slurm.js';
import { slurmAvailable } from './support/slurm.js';
import { JOB_WRAPPER, jobSpec, prepareJob, subjobInput, type JobToPrepare } from '../src/backends/prepare.js';
import type { Pass } from '../src/model/documents.js';
import { loadSite, type Site } from '../src/sites/site.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { finished, waitFor } from './support/backends.js';
import { bipo214Job, fixtureJob, INFO } from './support/jobs.js';

/** A site file for this machine: the fixture release set up by its env script, storage in a temporary folder. */
function fixtureSite(
  storage = mkdtempSync(join(tmpdir(), 'gasp-storage-')),
  env = join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh'),
) {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-site-'));
  writeFileSync(
    join(dir, 'here.ini'),
    `backend = local\nmax_jobs = 4\nstorage = file://${storage}\n[rat]\n7.0.8 = ${env}\n[slurm]\npartition = debug\ntime = 00:10:00\nmem = 100M\n`,
  );
  return { site: loadSite(join(dir, 'here.ini')), storage };
}

const tl208 = (overrides: Partial<Pass> = {}): JobToPrepare =>
  fixtureJob('TeloadedTl208', {
    created: '2026-11-23T00:00:00Z',
    event_mode: 'time',
    amount: { seconds: 3600 },
    template: { geometry: 'te', fill_volume: 'av', rate: 2 },
    ...overrides,
  });

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Manifest {
  exit_code: number;
  failed_stage?: string;
  error?: string;
  rat_version: string;
  ratdb_tag: string | null;
  macro_sha256: string;
  outputs: Array<{ data_type: string; file: string; size: number; sha256: string; adler32: string; url: string }>;
}

/** Runs the wrapper in a job folder directly, as a batch node would. */
function runWrapper(workdir: string, env: NodeJS.ProcessEnv = {}): { code: number | null; manifest: Manifest } {
  const run = spawnSync(JOB_WRAPPER, ['spec.json'], {
    cwd: workdir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { code: run.status, manifest: JSON.parse(readFileSync(join(workdir, 'manifest.json'), 'utf8')) as Manifest };
}

describe('the job wrapper', () => {
  const through: Array<[string, (site: Site) => Backend]> = [
    ['local', () => new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 2 })],
    // a real Slurm on localhost where one runs (CI starts it): scripts/slurm-localhost.sh
    ...(slurmAvailable ? [['slurm', (site: Site) => new SlurmBackend(site)] as [string, (site: Site) => Backend]] : []),
  ];

  it.each(through)(
    'runs a fixture job through %s: outputs in storage, a manifest whose checksums match them',
    async (_name, makeBackend) => {
      const { site, storage } = fixtureSite();
      const job = await prepareJob(site, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')));
      const backend = makeBackend(site);
      const [id = ''] = await backend.submit([job]);
      expect(await waitFor(backend, id, finished)).toMatchObject({ state: 'completed', exitCode: 0 });
      const manifest = JSON.parse(readFileSync(join(job.workdir, 'manifest.json'), 'utf8')) as Manifest;
      expect(manifest).toMatchObject({
        exit_code: 0,
        rat_version: '7.0.8',
        macro_sha256: INFO.modules.TeloadedTl208?.sha256,
      });
      expect(manifest.outputs.map((output) => output.data_type)).toEqual(['ratds', 'ntuple', 'other_ntuple']);
      for (const output of manifest.outputs) {
        const stored = join(storage, 'wrap/TeloadedTl208/7/1', output.file);
        expect(output.url).toBe(`file://${stored}`);
        expect(sha256(stored)).toBe(output.sha256);
        expect(readFileSync(stored).length).toBe(output.size);
        expect(output.adler32).toMatch(/^[0-9a-f]{8}$/);
      }
      expect(readFileSync(job.stdout, 'utf8')).toContain('fake rat: wrote TeloadedTl208_r7_p1_s0.root');
      const macro = readFileSync(join(job.workdir, 'job.mac'), 'utf8');
      expect(macro).toContain('/rat/procset file "TeloadedTl208_r7_p1_s0_scintFit.ntuple.root"');
      expect(macro).toContain('/generator/rate/set 2');
    },
  );

  it('refuses a pass whose RAT version the site cannot set up, naming the site', () => {
    const { site } = fixtureSite();
    expect(() => jobSpec(site, tl208({ rat_version: '7.1.0' }))).toThrow(
      `site here: no set-up for RAT 7.1.0 in ${site.file} [rat]`,
    );
  });

  it('passes the event mode as RAT arguments', () => {
    const { site } = fixtureSite();
    expect(jobSpec(site, tl208()).rat_args).toEqual(['-T', '3600']);
    expect(jobSpec(site, tl208({ event_mode: 'number', amount: { events: 500 } })).rat_args).toEqual(['-N', '500']);
    expect(
      jobSpec(
        site,
        tl208({
          event_mode: 'run_number',
          amount: { events: 30 },
          subjobs: [
            { index: 0, events: 20 },
            { index: 1, events: 10 },
          ],
        }),
      ).rat_args,
    ).toEqual(['-n', '7', '-N', '20']);
  });

  it('reads a subjob’s file where it is: a name or path as given, a file:// URL as its path, a root:// URL through a copy in the job folder checked by its adler32', () => {
    expect(subjobInput({ index: 0 })).toBeUndefined();
    expect(subjobInput({ index: 0, file: 'SNOP_9_0.zdab', checksum: 'adler32:1' })).toEqual({ path: 'SNOP_9_0.zdab' });
    expect(subjobInput({ index: 0, file: 'file:///data/raw/SNOP_9_0.zdab' })).toEqual({
      path: '/data/raw/SNOP_9_0.zdab',
    });
    const url = 'root://se.example:1094//snoplus/raw/SNOP_9_0.zdab';
    expect(subjobInput({ index: 0, file: url, checksum: 'adler32:0xAB12' })).toEqual({
      path: 'inputs/SNOP_9_0.zdab',
      copy: { url, file: 'inputs/SNOP_9_0.zdab', checksum: 'adler32:0000ab12' },
    });
    // a checksum of another kind is not one the wrapper can check
    expect(subjobInput({ index: 0, file: url, checksum: 'md5:0a1b' })?.copy).toEqual({
      url,
      file: 'inputs/SNOP_9_0.zdab',
    });
  });

  it('runs a spec.json written before inputs were copied in (version 1), and refuses a version it does not know or an input copy outside the job folder (exit 11)', async () => {
    const { site } = fixtureSite();
    const job = await prepareJob(site, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')));
    const spec = JSON.parse(readFileSync(join(job.workdir, 'spec.json'), 'utf8')) as Record<string, unknown>;
    expect(spec.version).toBe(2);
    expect(spec.input).toBeUndefined();
    writeFileSync(join(job.workdir, 'spec.json'), JSON.stringify({ ...spec, version: 1 }));
    expect(runWrapper(job.workdir)).toMatchObject({ code: 0, manifest: { exit_code: 0 } });
    writeFileSync(join(job.workdir, 'spec.json'), JSON.stringify({ ...spec, version: 3 }));
    expect(runWrapper(job.workdir)).toMatchObject({
      code: 11,
      manifest: { failed_stage: 'spec', error: 'spec version 3 is not one this wrapper (4) reads: 1, 2' },
    });
    // an input copy is removed after rat, so its name must be in the job's folder: a file elsewhere is left alone
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'gasp-raw-')), 'SNOP_9_0.zdab');
    writeFileSync(elsewhere, 'raw');
    writeFileSync(
      join(job.workdir, 'spec.json'),
      JSON.stringify({ ...spec, input: { url: 'root://127.0.0.1:1//SNOP_9_0.zdab', file: elsewhere } }),
    );
    expect(runWrapper(job.workdir)).toMatchObject({
      code: 11,
      manifest: { failed_stage: 'spec', error: `input file '${elsewhere}' is not a name in the job's folder` },
    });
    expect(readFileSync(elsewhere, 'utf8')).toBe('raw');
  });

  it('stages the same output twice safely, and tells set-up, RAT and staging failures apart by exit code', async () => {
    const { site, storage } = fixtureSite();
    const work = mkdtempSync(join(tmpdir(), 'gasp-work-'));
    const job = await prepareJob(site, tl208(), work);
    expect(runWrapper(job.workdir).code).toBe(0);
    const again = runWrapper(job.workdir);
    expect(again.code).toBe(0);
    expect(sha256(join(storage, 'wrap/TeloadedTl208/7/1/TeloadedTl208_r7_p1_s0.root'))).toBe(
      again.manifest.outputs[0]?.sha256,
    );

    const ratFails = runWrapper(job.workdir, { GASP_FAKE_RAT_EXIT: '3' });
    expect(ratFails).toMatchObject({
      code: 20,
      manifest: { exit_code: 20, failed_stage: 'rat', error: 'rat exited with 3' },
    });

    const noSetup = fixtureSite(storage, '/nonexistent/env_rat-7.0.8.sh').site;
    const setupFails = runWrapper(
      (await prepareJob(noSetup, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')))).workdir,
    );
    expect(setupFails.code).toBe(10);
    expect(setupFails.manifest.failed_stage).toBe('setup');
    expect(setupFails.manifest.error).toMatch(/^RAT 7.0.8 set-up failed: .*nonexistent/);

    const blocked = join(mkdtempSync(join(tmpdir(), 'gasp-storage-')), 'file-not-folder');
    writeFileSync(blocked, '');
    const stagingFails = runWrapper(
      (await prepareJob(fixtureSite(blocked).site, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')))).workdir,
    );
    expect(stagingFails.code).toBe(30);
    expect(stagingFails.manifest.failed_stage).toBe('staging');
  });

  it('runs a script module with bash, not rat, and tells its failures apart by exit code', async () => {
    const { site, storage } = fixtureSite();
    const scriptJob = (path: string, outputs = ['ntuple']): JobToPrepare => ({
      module: 'HitCount',
      run: 7,
      subjob: 0,
      type: 'script',
      fields: { INPUT: 'SNOP_7_0.zdab' },
      pass: {
        pass: 1,
        status: 'submitted',
        rat_version: '7.0.8',
        label: 'wrap',
        priority: 0,
        created: '2026-12-01T00:00:00Z',
        level: 'sub_run',
        template: { nhit_cut: 15 },
        attempts: [],
      },
      production: { path, phase: 'processing', event_mode: 'run', outputs, template: [], sha256: '' },
    });
    const spec = jobSpec(site, scriptJob('mac/processing/hit_count.sh'));
    expect(spec.macro).toMatchObject({ path: 'mac/processing/hit_count.sh', type: 'script' });
    // a script takes no arguments; its values are in its environment
    expect(spec.rat_args).toEqual([]);
    expect(spec.fields).toMatchObject({ INPUT: 'SNOP_7_0.zdab', OUTPUT: 'HitCount_r7_p1_s0', RUN: '7' });

    const work = () => mkdtempSync(join(tmpdir(), 'gasp-work-'));
    const good = await prepareJob(site, scriptJob('mac/processing/hit_count.sh'), work());
    expect(runWrapper(good.workdir).code).toBe(0);
    expect(readFileSync(join(storage, 'wrap/HitCount/7/1/HitCount_r7_p1_s0.ntuple.root'), 'utf8')).toContain(
      'input=SNOP_7_0.zdab run=7 nhit_cut=15',
    );
    expect(runWrapper(good.workdir, { GASP_FAKE_SCRIPT_EXIT: '4' }).manifest).toMatchObject({
      exit_code: 20,
      failed_stage: 'script',
      error: 'script mac/processing/hit_count.sh exited with 4',
    });
    const short = await prepareJob(site, scriptJob('mac/processing/hit_count.sh', ['ntuple', 'soc']), work());
    expect(runWrapper(short.workdir).manifest).toMatchObject({
      exit_code: 20,
      error: 'script mac/processing/hit_count.sh wrote no HitCount_r7_p1_s0.soc.root',
    });
    const missing = await prepareJob(site, scriptJob('mac/processing/nothing.sh'), work());
    const noScript = runWrapper(missing.workdir);
    expect(noScript.code).toBe(11);
    expect(noScript.manifest.error).toMatch(/^script .*nothing.sh cannot be read: No such file or directory$/);
  });

  it('lets two wrappers stage the same outputs at once: one file each, no lock or partial left', async () => {
    const { site, storage } = fixtureSite();
    const jobs = await Promise.all(
      [0, 1].map(() => prepareJob(site, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')))),
    );
    const runs = await Promise.all(
      jobs.map(
        (job) =>
          new Promise<number | null>((resolve) => {
            spawn(JOB_WRAPPER, ['spec.json'], { cwd: job.workdir, stdio: 'ignore' }).once('exit', (code) =>
              resolve(code),
            );
          }),
      ),
    );
    expect(runs).toEqual([0, 0]);
    const folder = join(storage, 'wrap/TeloadedTl208/7/1');
    expect(readdirSync(folder).sort()).toEqual([
      'TeloadedTl208_r7_p1_s0.ntuple.root',
      'TeloadedTl208_r7_p1_s0.root',
      'TeloadedTl208_r7_p1_s0_scintFit.ntuple.root',
    ]);
  });

  it("sets the pass's RATDB tag at the top of the macro rat runs, records it in the manifest, and rat receives it", async () => {
    const { site, storage } = fixtureSite();
    const job = await prepareJob(
      site,
      tl208({ ratdb_tag: 'water-physics-v2' }),
      mkdtempSync(join(tmpdir(), 'gasp-work-')),
    );
    expect(job.spec?.ratdb_tag).toBe('water-physics-v2');
    const run = runWrapper(job.workdir);
    expect(run.code).toBe(0);
    expect(run.manifest.ratdb_tag).toBe('water-physics-v2');
    // before /run/initialize, where RAT first reads RATDB
    expect(readFileSync(join(job.workdir, 'job.mac'), 'utf8').split('\n').slice(0, 2)).toEqual([
      "# gasp: the pass's RATDB tag",
      '/rat/db/tag water-physics-v2',
    ]);
    // the stand-in rat writes the tag it received into every file it makes
    for (const output of run.manifest.outputs) {
      expect(readFileSync(join(storage, 'wrap/TeloadedTl208/7/1', output.file), 'utf8').split('\n')[0]).toContain(
        ' ratdb_tag=water-physics-v2',
      );
    }

    const live = runWrapper((await prepareJob(site, tl208(), mkdtempSync(join(tmpdir(), 'gasp-work-')))).workdir);
    expect(live.manifest.ratdb_tag).toBeNull();
    expect(readFileSync(join(storage, 'wrap/TeloadedTl208/7/1/TeloadedTl208_r7_p1_s0.root'), 'utf8')).toMatch(
      /^FAKE-ROOT \S+ events=\d+ ratdb_tag=-\n/,
    );

    // a tag of two words would add a word or a command to the macro: the job's fault (11)
    const bad = await prepareJob(
      site,
      tl208({ ratdb_tag: 'a b\n/control/shell true' }),
      mkdtempSync(join(tmpdir(), 'gasp-work-')),
    );
    expect(runWrapper(bad.workdir)).toMatchObject({ code: 11, manifest: { failed_stage: 'macro' } });
  });

  it('names the file of a macro without /rat/procset file with rat -o, and stages it', async () => {
    const { site, storage } = fixtureSite();
    const job = await prepareJob(site, bipo214Job(), mkdtempSync(join(tmpdir(), 'gasp-work-')));
    expect(job.spec?.outputs).toEqual([
      { data_type: 'ratds', file: 'ScintBipo214_r7_p1_s0.root', named_by: 'command line' },
    ]);
    expect(job.spec?.rat_args).toEqual(['-o', 'ScintBipo214_r7_p1_s0.root', '-N', '100']);
    const run = runWrapper(job.workdir);
    expect(run).toMatchObject({ code: 0, manifest: { exit_code: 0 } });
    const stored = join(storage, 'wrap/ScintBipo214/7/1/ScintBipo214_r7_p1_s0.root');
    expect(run.manifest.outputs).toMatchObject([
      { data_type: 'ratds', file: 'ScintBipo214_r7_p1_s0.root', url: `file://${stored}` },
    ]);
    expect(sha256(stored)).toBe(run.manifest.outputs[0]?.sha256);
  });

  it('sends no job of a module whose outputs nothing can name', () => {
    const { site } = fixtureSite();
    const job = bipo214Job();
    const production = {
      ...job.production,
      outputs: ['ntuple'],
      output_naming: { ntuple: 'none' as const },
      unnameable: 'line 4: the outntuple processor has no /rat/procset file',
    };
    expect(() => jobSpec(site, { ...job, production })).toThrow(
      'ScintBipo214: nothing can name its ntuple file (line 4: the outntuple processor has no /rat/procset file)',
    );
  });

  it('refuses a macro that differs from the production information', async () => {
    const { site } = fixtureSite();
    const job = await prepareJob(
      site,
      tl208({ macro_sha256: '0'.repeat(64) }),
      mkdtempSync(join(tmpdir(), 'gasp-work-')),
    );
    const run = runWrapper(job.workdir);
    // the job's fault, not the site's: 11, which does not count against the site's health
    expect(run.code).toBe(11);
    expect(run.manifest).toMatchObject({ exit_code: 11, failed_stage: 'macro' });
    expect(run.manifest.error).toContain('differs from the production information (sha256)');
  });
});
