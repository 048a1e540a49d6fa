import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, type Backend } from '../src/backends/backend.js';
import { DryBackend } from '../src/backends/dry.js';
import { LocalBackend } from '../src/backends/local.js';
import { SlurmBackend } from '../src/backends/slurm.js';
import { runCommand } from '../src/backends/command.js';
import { NO_SLURM, slurmAvailable, slurmSite } from './support/slurm.js';
import { skipUnless } from './support/skip.js';
import { finished, scriptJob, waitFor } from './support/backends.js';

interface Candidate {
  name: string;
  /** A backend whose jobs end with `exitCode` (real backends: the script's exit; dry: its chosen outcome). */
  make(exitCode: number): Backend;
  /** Dry jobs end at once: there is nothing running to cancel. */
  runsJobs: boolean;
  /** Why this backend cannot be tested here, if it cannot. */
  missing?: string | undefined;
}

const candidates: Candidate[] = [
  {
    name: 'dry',
    make: (exitCode) => new DryBackend(exitCode === 0 ? {} : { outcome: 'failed', exitCode }),
    runsJobs: false,
  },
  {
    name: 'local',
    make: () => new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-local-state-')), maxJobs: 4 }),
    runsJobs: true,
  },
  // a real Slurm on localhost: scripts/slurm-localhost.sh, started by .ci/run
  {
    name: 'slurm',
    make: () => new SlurmBackend(slurmSite()),
    runsJobs: true,
    missing: slurmAvailable ? undefined : NO_SLURM,
  },
];

describe.each(candidates)('the $name backend keeps the Backend contract', ({ make, runsJobs, missing }) => {
  skipUnless(missing === undefined, missing ?? '');
  it('gives each job its own id, and finds a submitted job by status', async () => {
    const backend = make(0);
    const ids = await backend.submit([scriptJob('a', 'exit 0'), scriptJob('b', 'exit 0')]);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    const statuses = await backend.status(ids);
    for (const id of ids) expect(['queued', 'running', 'completed']).toContain(statuses.get(id)?.state);
  });

  it('finds a submitted job again by its name, for a client that restarts', async () => {
    const backend = make(0);
    const job = scriptJob(`named-${Date.now().toString(36)}`, 'sleep 1; exit 0');
    const [id] = await backend.submit([job]);
    const found = await backend.lookup([job.name, 'gasp-never-submitted']);
    expect(Object.fromEntries(found)).toEqual({ [job.name]: id });
  });

  it("reports a finished job's exit code", async () => {
    const backend = make(3);
    const [id = ''] = await backend.submit([scriptJob('fails', 'sleep 0.2; exit 3')]);
    expect(await waitFor(backend, id, finished)).toMatchObject({ state: 'failed', exitCode: 3 });
    const ok = make(0);
    const [good = ''] = await ok.submit([scriptJob('works', 'exit 0')]);
    expect(await waitFor(ok, good, finished)).toMatchObject({ state: 'completed', exitCode: 0 });
  });

  it('reports an unknown id as lost, not as running', async () => {
    const backend = make(0);
    const unknown: Record<string, string> = { dry: 'dry-999999', local: 'local-nothing-000000', slurm: '999999' };
    const id = unknown[backend.kind] ?? '';
    expect((await backend.status([id])).get(id)?.state).toBe('lost');
  });

  it('stops a job it is asked to cancel', async ({ skip }) => {
    skip(!runsJobs, 'dry jobs end at once: there is nothing running to cancel');
    const backend = make(0);
    const job = scriptJob('long', 'sleep 30; echo finished');
    const [id = ''] = await backend.submit([job]);
    await waitFor(backend, id, (status) => status.state === 'running');
    await backend.cancel([id]);
    const status = await waitFor(backend, id, finished);
    expect(status.state).toBe('failed');
    expect(status.reason).toBe('canceled');
    // on a 2-core Slurm shared with the other test files, the job may queue a while before it runs
  }, 90_000);
});

describe('the Slurm backend', () => {
  skipUnless(slurmAvailable, NO_SLURM);
  it('calls an unreachable Slurm unavailable (the client retries), not a job failure', async () => {
    const failing = new SlurmBackend(slurmSite(), async (argv) => ({
      code: 1,
      stdout: '',
      stderr: `${argv[0]}: error: Unable to contact slurm controller (connect failure)`,
    }));
    await expect(failing.status(['1'])).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it('calls a job Slurm refuses a site problem, not an outage', async () => {
    const site = slurmSite();
    const greedy = new SlurmBackend({ ...site, slurm: { ...site.slurm, mem: '999999G' } });
    await expect(greedy.submit([scriptJob('big', 'exit 0')])).rejects.toThrow(
      /sbatch failed \(exit 1\): .*check \[slurm\] in/,
    );
  });

  it('says which command is missing where Slurm is not installed', async () => {
    const site = slurmSite();
    const missing = new SlurmBackend(site, (argv, options) =>
      runCommand([`/nonexistent/${argv[0] ?? ''}`, ...argv.slice(1)], options),
    );
    await expect(missing.submit([scriptJob('x', 'exit 0')])).rejects.toThrow('/nonexistent/sbatch: command not found');
  });
});

describe('the local backend', () => {
  it('finds its jobs again after a client restart, and refuses more than max_jobs', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gasp-local-state-'));
    const first = new LocalBackend({ stateDir, maxJobs: 2 });
    const ids = await first.submit([scriptJob('x', 'sleep 1; exit 0'), scriptJob('y', 'sleep 1; exit 4')]);
    await expect(first.submit([scriptJob('z', 'exit 0')])).rejects.toThrow(
      'local backend: 1 jobs asked, room for 0 (max_jobs 2)',
    );
    const restarted = new LocalBackend({ stateDir, maxJobs: 2 });
    expect(await waitFor(restarted, ids[0] ?? '', finished)).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(await waitFor(restarted, ids[1] ?? '', finished)).toMatchObject({ state: 'failed', exitCode: 4 });
  });
});

describe('the dry backend', () => {
  it('knows the jobs in its journal after a restart, including one whose submit failed after it was recorded', async () => {
    const journal = join(mkdtempSync(join(tmpdir(), 'gasp-dry-')), 'journal.jsonl');
    // random 0.1 < fail_calls 0.5: every call fails; the first draw (0.1 < 0.5) makes submit fail after recording
    const failing = new DryBackend({ journal, failCalls: 0.5, random: () => 0.1 });
    await expect(failing.submit([scriptJob('a', 'true')])).rejects.toThrow(
      'dry backend: submit (after the job was recorded) failed on purpose ([dry] fail_calls)',
    );
    const restarted = new DryBackend({ journal });
    const found = await restarted.lookup(['gasp-test-a', 'gasp-test-b']);
    expect([...found.keys()]).toEqual(['gasp-test-a']);
    expect((await restarted.status([found.get('gasp-test-a') ?? ''])).get(found.get('gasp-test-a') ?? '')).toEqual({
      state: 'completed',
      exitCode: 0,
    });
    const [next] = await restarted.submit([scriptJob('b', 'true')]);
    expect(next).not.toBe(found.get('gasp-test-a'));
    await expect(new DryBackend({ journal, failCalls: 1, random: () => 0.9 }).status(['dry-1'])).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
  });
});
