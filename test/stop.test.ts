import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { isAlive } from '../src/processes.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { couchSection } from './support/couch.js';
import { databaseWithJobs, jobs } from './support/jobs.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files listing the batch commands a forced stop left hanging, one pid a line: killed after each test. */
const hanging: string[] = [];
afterEach(() => {
  for (const file of hanging.splice(0))
    for (const pid of readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number))
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

interface Client {
  child: ChildProcessByStdio<null, null, Readable>;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once the client's cycle waits on the hung `sbatch`. */
  sbatch: () => Promise<void>;
}

/**
 * `gasp enqueue` for a Slurm site whose controller does not answer: an `sbatch` first on PATH that
 * never returns (as one does while slurmctld hangs), so a graceful stop waits on the cycle in hand.
 */
function startHungClient(db: Database, env: NodeJS.ProcessEnv = {}): Client {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-stop-'));
  const pidFile = join(dir, 'sbatch.pid');
  writeFileSync(join(dir, 'sbatch'), `#!/bin/sh\necho $$ >> '${pidFile}'\nexec sleep 60\n`);
  chmodSync(join(dir, 'sbatch'), 0o755);
  writeFileSync(
    join(dir, 'hung.ini'),
    `name = hung\nbackend = slurm\nmax_jobs = 10\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n[slurm]\npartition = debug\ntime = 00:10:00\nmem = 100M\n`,
  );
  writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = hung.ini\ninterval = 1\n`);
  return spawnEnqueue(join(dir, 'gasp.cfg'), { ...env, PATH: `${dir}:${process.env.PATH ?? ''}` }, async () => {
    for (let waited = 0; waited < 300 && !existsSync(pidFile); waited++) await wait(50);
    expect(existsSync(pidFile)).toBe(true);
    hanging.push(pidFile);
  });
}

function spawnEnqueue(config: string, env: NodeJS.ProcessEnv, sbatch: () => Promise<void> = async () => {}): Client {
  const child = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', config], {
    env: { ...process.env, GASP_CONFIG: undefined, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stderr: () => stderr, exited, sbatch };
}

/** Milliseconds from now until the client exits, and its exit code. */
async function exitOf(client: Client): Promise<{ code: number | null; ms: number }> {
  const from = Date.now();
  const code = await client.exited;
  return { code, ms: Date.now() - from };
}

const LEFT = 'the claims of site hung stay until its next enqueue takes them up or their 900 s lease ends';

describe('stopping gasp enqueue', () => {
  it('stops gracefully on the first signal with exit 0, whatever the stop timeout', async () => {
    const db = await databaseWithJobs(2, 'stop-graceful');
    const dir = mkdtempSync(join(tmpdir(), 'gasp-stop-dry-'));
    writeFileSync(
      join(dir, 'dry.ini'),
      `name = calm\nbackend = dry\nmax_jobs = 10\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = dry.ini\ninterval = 1\n`);
    const client = spawnEnqueue(join(dir, 'gasp.cfg'), { GASP_STOP_TIMEOUT: '1' });
    for (let waited = 0; waited < 300 && !client.stderr().includes('cycle 1:'); waited++) await wait(50);
    client.child.kill('SIGINT');
    expect((await exitOf(client)).code).toBe(0);
    expect(client.stderr()).toContain('enqueue stopped');
    expect(client.stderr()).not.toContain('stopped at once');
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    'a second %s while the stop waits on a hung batch command stops at once with exit %i, saying the claims stay',
    async (signal, exitCode) => {
      const db = await databaseWithJobs(2, 'stop-second');
      const client = startHungClient(db);
      await client.sbatch();
      client.child.kill(signal);
      // the same key press passed on by npm or npx arrives again at once: still a graceful stop
      await wait(100);
      client.child.kill(signal);
      await wait(1_200);
      expect(client.child.exitCode).toBeNull();
      client.child.kill(signal);
      const { code, ms } = await exitOf(client);
      expect(code).toBe(exitCode);
      expect(ms).toBeLessThan(2_000);
      expect(client.stderr()).toContain(`${signal} while stopping: stopped at once; ${LEFT}`);
      const passes = (await jobs(db)).flatMap((doc) => doc.passes);
      expect(passes.map((pass) => [pass.status, pass.site])).toEqual([
        ['submitted', 'hung'],
        ['submitted', 'hung'],
      ]);
    },
    20_000,
  );

  it('stops at once, with one line, when the graceful stop takes longer than GASP_STOP_TIMEOUT', async () => {
    const db = await databaseWithJobs(1, 'stop-timeout');
    const client = startHungClient(db, { GASP_STOP_TIMEOUT: '1' });
    await client.sbatch();
    client.child.kill('SIGTERM');
    const { code, ms } = await exitOf(client);
    expect(code).toBe(143);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_000);
    const lines = client.stderr().split('\n');
    expect(lines.filter((line) => line.includes('stopped at once'))).toHaveLength(1);
    expect(client.stderr()).toContain(`the graceful stop took longer than 1 s: stopped at once; ${LEFT}`);
  }, 20_000);

  it('refuses a GASP_STOP_TIMEOUT that is not a number of seconds with exit 2', async () => {
    const db = await databaseWithJobs(1, 'stop-bad');
    const dir = mkdtempSync(join(tmpdir(), 'gasp-stop-bad-'));
    writeFileSync(
      join(dir, 'dry.ini'),
      `name = calm\nbackend = dry\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = dry.ini\n`);
    const result = await runGasp(['enqueue', '-c', join(dir, 'gasp.cfg'), '--once'], {
      env: { GASP_STOP_TIMEOUT: 'soon' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'GASP_STOP_TIMEOUT: "soon" is not a number of seconds (expected a positive number)',
    );
    expect((await jobs(db)).flatMap((doc) => doc.passes).map((pass) => pass.status)).toEqual(['waiting']);
  });
});
