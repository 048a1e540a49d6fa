import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { InterruptedError } from '../src/errors.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { couchEnv, useTestDatabase } from './support/couch.js';
import { INFO, jobs } from './support/jobs.js';

const test = useTestDatabase('interrupt');
const JOBS = 6_000;

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.put(INFO);
});

async function jobCount(module: string): Promise<number> {
  return (await test.db.allDocs({ startkey: `job:${module}:`, endkey: `job:${module}:\uffff` })).rows.length;
}

describe('Ctrl-C during a large submit', () => {
  it('stops after the batch in hand when aborted, counting what is in; the same request again writes the rest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-interrupt-')), 'po210.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'aborted',
        modules: [{ module: 'PartialPo210', n_ev: 100, ev_per_run: 10, template: { fill_volume: 'upper' } }],
      }),
    );
    const stop = new AbortController();
    const starts: unknown[] = [];
    const error = await submitRequestFile(test.db, file, {
      batchSize: 3,
      onStart: (start) => starts.push(start),
      onProgress: () => stop.abort(),
      signal: stop.signal,
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(130);
    expect((error as InterruptedError).message).toMatch(
      new RegExp(
        `^interrupted: 3 of 10 jobs of request req-[0-9a-f]{16} are in ${test.db.name}, 3 of them written by this run; run the same command again to write the other 7 \\(none is written twice\\)$`,
      ),
    );
    expect(starts).toEqual([{ generation: 1, total: 10, present: 0 }]);
    const rest = await submitRequestFile(test.db, file, { onStart: (start) => starts.push(start) });
    expect(starts.at(-1)).toEqual({ generation: 1, total: 10, present: 3 });
    expect(rest.result.written).toBe(7);
    expect(rest.result.jobs).toHaveLength(10);
  });

  it('prints the plan first, stops after the batch being written, says how many jobs are in and exits 130; running it again completes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-interrupt-'));
    writeFileSync(
      join(dir, 'solar.json'),
      JSON.stringify({ rat_v: '7.0.8', modules: [{ module: 'ScintSolar_b8', t_run: 1, t_format: 'h', n_runs: JOBS }] }),
    );
    const env = couchEnv(test.db.name);
    const child = spawn(process.execPath, [GASP_BIN, 'submit', 'solar.json'], {
      cwd: dir,
      env: { ...process.env, GASP_CONFIG: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    // the plan is printed and the first batch is in: the writing has begun and goes on
    for (
      let waited = 0;
      waited < 2_400 && (!stdout.includes('writing ') || (await jobCount('ScintSolar_b8')) === 0);
      waited++
    )
      await new Promise((resolve) => setTimeout(resolve, 25));
    child.kill('SIGINT');
    const code = await closed;

    const label = /^plan: 6000 jobs, label (solar-[0-9a-f]{8})$/m.exec(stdout)?.[1];
    expect(stdout.split('\n').slice(2, 5)).toEqual([
      `plan: ${JOBS} jobs, label ${label}`,
      `  ScintSolar_b8, label ${label}: ${JOBS} jobs`,
      `writing ${JOBS} jobs to ${test.db.name}; Ctrl-C stops after the current batch, and running the same command again completes it`,
    ]);
    const written = await jobCount('ScintSolar_b8');
    expect({ code, stderr: stderr.trim().split('\n') }).toEqual({
      code: 130,
      stderr: [
        expect.stringMatching(
          new RegExp(
            `^interrupted: ${written} of ${JOBS} jobs of request req-[0-9a-f]{16} are in ${test.db.name}, ${written} of them written by this run; run the same command again to write the other ${JOBS - written} \\(none is written twice\\)$`,
          ),
        ),
        'the jobs go into <label>.exactly when every one is in',
      ],
    });
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(JOBS);
    expect(written % 500).toBe(0);
    expect(existsSync(join(dir, `${label}.exactly`))).toBe(false);
    // the lease of the request was let go: the rerun need not wait for it to run out
    expect((await test.db.allDocs({ startkey: 'lease:', endkey: 'lease:\uffff' })).rows).toEqual([]);

    const rerun = await runGasp(['submit', 'solar.json'], { cwd: dir, env });
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(
      `writing ${JOBS - written} jobs to ${test.db.name} (${written} of ${JOBS} are there from an earlier run);`,
    );
    expect(rerun.stdout).toContain(
      `submitted ${JOBS - written} jobs to ${test.db.name}, label ${label} (${written} were there from an earlier run)\n`,
    );
    expect(
      readFileSync(join(dir, `${label}.exactly`), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(JOBS);
    const docs = (await jobs(test.db)).filter((doc) => doc.module === 'ScintSolar_b8');
    expect(docs).toHaveLength(JOBS);
    expect(docs.every((doc) => doc.passes.length === 1 && doc.passes[0]?.label === label)).toBe(true);
  }, 180_000);
});
