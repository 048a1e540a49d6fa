import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataDoc, JobDoc, RunDoc } from '../src/model/documents.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { couchSection, useTestDatabase } from './support/couch.js';
import { FIXTURE_RELEASE } from './support/fixture.js';

const test = useTestDatabase('arrives');
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real gasp command left running, its output kept for the failure message. */
interface Running {
  child: ChildProcess;
  output: () => string;
}

const running: Running[] = [];

function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, [GASP_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const started = { child, output: () => output };
  running.push(started);
  return started;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    running.splice(0).map(({ child }) => {
      if (child.exitCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    }),
  );
}

afterAll(stopAll);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const logs = running.map((item) => item.output().split('\n').slice(-15).join('\n')).join('\n---\n');
      throw new Error(`timed out waiting for ${what}; the commands said:\n${logs}`);
    }
    await wait(250);
  }
}

const jobsOfRun = async (run: number): Promise<JobDoc[]> =>
  (await test.db.allDocs<JobDoc>({ startkey: 'job:', endkey: 'job:\ufff0', include_docs: true })).rows.flatMap((row) =>
    row.doc?.run === run ? [row.doc] : [],
  );

/** The run's passes, once each is completed; undefined while any is not (or there are fewer than `count`). */
async function completedPasses(run: number, count: number): Promise<string[] | undefined> {
  const passes = (await jobsOfRun(run)).flatMap((doc) =>
    doc.passes.map((pass) => ({ name: `${doc.module} ${pass.pass}`, status: pass.status })),
  );
  return passes.length >= count && passes.every((pass) => pass.status === 'completed')
    ? passes.map((pass) => pass.name).sort()
    : undefined;
}

const raw = (run: number, subfile: number) =>
  `SNOP_${String(run).padStart(10, '0')}_${String(subfile).padStart(3, '0')}.zdab`;

describe('processing that runs itself', () => {
  it('processes a run dropped in a watched folder once it is finished, never one still being written, and late subfiles in a pass of their own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-arrives-'));
    const folder = join(dir, 'raw');
    mkdirSync(folder);
    writeFileSync(
      join(dir, 'local.ini'),
      `name = arrives\nbackend = local\nmax_jobs = 4\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    const config = join(dir, 'gasp.cfg');
    writeFileSync(
      config,
      `${couchSection(test.db.name)}[client]\nmode = processing\nsite = local.ini\ninterval = 0.5\n`,
    );
    const setup = [
      await runGasp(['views', 'push', '-c', config]),
      await runGasp([
        'processing-info',
        'upload',
        join(FIXTURE_RELEASE, 'processing_information_7_0_8.json'),
        '-c',
        config,
      ]),
    ];
    expect(setup.map((result) => result.code)).toEqual([0, 0]);

    start(['runs', 'watch', folder, '--interval', '1', '--settle', '3', '-c', config]);
    start(['process', '--follow', '--rat', '7.0.8', '--interval', '1', '-c', config]);
    start(['enqueue', '-c', config, '--log-level', 'info']);

    // run 100151 is written and closed; run 100152 is still being written the whole time
    writeFileSync(join(folder, raw(100151, 0)), 'first subfile of 100151');
    writeFileSync(join(folder, raw(100151, 1)), 'second subfile of 100151, a little longer');
    writeFileSync(join(folder, 'SNOP_0000100151.closed'), '');
    writeFileSync(join(folder, raw(100152, 0)), 'growing');
    let growing = true;
    const grow = (async () => {
      while (growing) {
        appendFileSync(join(folder, raw(100152, 0)), ' and more');
        await wait(200);
      }
    })();

    expect(await until('run 100151 processed', () => completedPasses(100151, 3))).toEqual([
      'Analysis 1',
      'Monitoring 1',
      'Processing 1',
    ]);
    expect(await jobsOfRun(100152)).toEqual([]);
    // a file still growing is never registered: run 100152 has no document yet
    const growingRun = await test.db.allDocs<RunDoc>({ keys: ['run:100152'], include_docs: true });
    expect(growingRun.rows.flatMap((row) => (row.doc ? [row.doc] : []))).toEqual([]);
    const processing = await test.db.get<JobDoc>('job:Processing:100151');
    expect(processing.passes[0]?.subjobs?.map((subjob) => subjob.state)).toEqual(['completed', 'completed']);
    // each subjob's rat read its own raw file, from where the watcher saw it
    const passFolder = join(dir, 'jobs', 'processing-7.0.8', 'Processing', '100151', 'p1');
    const said = readdirSync(passFolder)
      .sort()
      .map((name) => readFileSync(join(passFolder, name, 'job.out'), 'utf8').match(/fake rat: read input .*/)?.[0]);
    expect(said).toEqual([
      `fake rat: read input ${join(folder, raw(100151, 0))} (23 bytes)`,
      `fake rat: read input ${join(folder, raw(100151, 1))} (41 bytes)`,
    ]);
    const data = await test.db.allDocs<DataDoc>({ startkey: 'data:', endkey: 'data:\ufff0', include_docs: true });
    expect(
      data.rows
        .flatMap((row) =>
          row.doc?.run === 100151 ? [`${row.doc.module} ${row.doc.data_type} ${row.doc.files.length}`] : [],
        )
        .sort(),
    ).toEqual(['Analysis ntuple 1', 'Monitoring soc 1', 'Processing ratds 2']);

    // a subfile arriving after its run was processed: a pass of its own with only that subfile
    writeFileSync(join(folder, raw(100151, 2)), 'a late subfile');
    expect(await until('the late subfile processed', () => completedPasses(100151, 4))).toContain('Processing 2');
    const late = (await test.db.get<JobDoc>('job:Processing:100151')).passes[1];
    expect(late?.late_of).toBe(1);
    expect(late?.subjobs?.map((subjob) => subjob.file?.split('/').at(-1))).toEqual([raw(100151, 2)]);
    const shown = (await runGasp(['show', 'Processing', '100151', '2', '-c', config])).stdout;
    expect(shown).toContain('reads the raw subfiles that reached run 100151 after pass 1 was taken');
    expect(shown).toContain(`reads ${pathToFileURL(join(folder, raw(100151, 2))).href} (adler32:`);

    // once the detector stops writing 100152, it settles and is processed too
    growing = false;
    await grow;
    await until('run 100152 processed', () => completedPasses(100152, 3));
    expect((await test.db.get<RunDoc>('run:100152')).complete).toBe(true);
    await stopAll();
  }, 180_000);
});
