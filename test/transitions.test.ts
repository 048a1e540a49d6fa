import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Pass } from '../src/model/documents.js';
import { PASS_STATUSES, type PassStatus } from '../src/model/status.js';
import { statusDiagram, withDiagram } from '../src/passes/diagram.js';
import type { Moves } from '../src/passes/rules.js';
import {
  cancel,
  claim,
  copy,
  deletePass,
  failSubmission,
  finishCancel,
  lose,
  observe,
  recordSubmission,
  releaseUnsubmitted,
  renewLease,
  retry,
  returnExpired,
  TRANSITIONS,
  unlock,
  unsatisfy,
  type ObserveFacts,
  type Outcome,
  type SubjobFact,
  type TransitionName,
} from '../src/passes/transitions.js';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const TOKEN = 'claim-token';

/** A pass in a status; a held one is held by site sfu under TOKEN, its lease ended an hour ago, its one job submitted. */
function passIn(status: PassStatus, extra: Partial<Pass> = {}): Pass {
  const held = status === 'submitted' || status === 'running';
  return {
    pass: 1,
    status,
    rat_version: '8.0.0',
    label: 'mc',
    priority: 0,
    created: '2026-11-30T00:00:00.000Z',
    attempts: held ? [{ site: 'sfu', status: 'submitted', started: '2026-12-01T10:00:00.000Z', token: TOKEN }] : [],
    subjobs: [held ? { index: 0, backend_id: 'job-1', state: 'queued' } : { index: 0 }],
    ...(held && {
      site: 'sfu',
      claim: { token: TOKEN, at: '2026-12-01T10:00:00.000Z', lease_until: '2026-12-01T11:00:00.000Z' },
    }),
    ...extra,
  };
}

const observed = (subjobs: Array<[number, SubjobFact]>, more: Partial<ObserveFacts> = {}): ObserveFacts => ({
  token: TOKEN,
  subjobs: new Map(subjobs),
  runsWrapper: false,
  ...more,
});

/** Each transition with facts under which only the pass's status can make it refuse. */
const APPLY: Record<TransitionName, { run: (pass: Pass) => Outcome; extra?: Partial<Pass> }> = {
  claim: { run: (pass) => claim(pass, { site: 'ral', token: 'new', leaseSeconds: 900 }, NOW) },
  recordSubmission: {
    run: (pass) => recordSubmission(pass, { token: TOKEN, backendIds: new Map([[0, 'job-2']]) }, NOW),
  },
  failSubmission: {
    run: (pass) =>
      failSubmission(pass, { token: TOKEN, reason: 'sbatch: invalid partition', backendIds: new Map() }, NOW),
  },
  renewLease: { run: (pass) => renewLease(pass, { token: TOKEN, leaseSeconds: 900 }, NOW) },
  observe: { run: (pass) => observe(pass, observed([[0, { backend: { state: 'completed', exitCode: 0 } }]]), NOW) },
  finishCancel: {
    run: (pass) => finishCancel(pass, { token: TOKEN }, NOW),
    extra: { cancel_requested: '2026-12-01T11:59:00.000Z' },
  },
  lose: { run: (pass) => lose(pass, { token: TOKEN, reason: 'the backend forgot it' }, NOW) },
  returnExpired: { run: (pass) => returnExpired(pass, { aliveSites: new Set(['ral']) }, NOW) },
  releaseUnsubmitted: {
    run: (pass) => releaseUnsubmitted(pass, { token: TOKEN, reason: 'its client stopped' }, NOW),
    extra: { subjobs: [{ index: 0 }] },
  },
  unlock: { run: (pass) => unlock(pass, { site: 'sfu', reason: 'released by a shifter' }, NOW) },
  retry: { run: (pass) => retry(pass) },
  cancel: { run: (pass) => cancel(pass, NOW) },
  delete: { run: (pass) => deletePass(pass) },
  unsatisfy: { run: (pass) => unsatisfy(pass, { because: 'its prerequisite failed' }) },
  copy: {
    run: (pass) => ({
      changed: true,
      pass: copy(pass, { number: 2, token: 'like' }, NOW),
      event: 'waiting',
      effects: {},
    }),
  },
};

const cases = (Object.keys(TRANSITIONS) as TransitionName[]).flatMap((name) =>
  PASS_STATUSES.map((status) => ({ name, status })),
);

describe('the status table: every transition from every status', () => {
  it.each(cases)(
    '$name from $status: applies exactly where the table allows, and leads where it says',
    ({ name, status }) => {
      const moves: Moves = TRANSITIONS[name];
      const allowed = moves[status];
      const { run, extra } = APPLY[name];
      const outcome = run(passIn(status, extra));
      if (allowed === undefined) {
        expect(outcome.changed).toBe(false);
        if (!outcome.changed) expect(outcome.reason).toContain(status);
        return;
      }
      expect(outcome.changed, outcome.changed ? '' : outcome.reason).toBe(true);
      if (outcome.changed && name !== 'copy') expect(allowed).toContain(outcome.pass.status);
    },
  );

  it('lists every transition the module exports, and no status outside PASS_STATUSES', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual(Object.keys(APPLY).sort());
    for (const moves of Object.values(TRANSITIONS) as Moves[])
      for (const [from, to] of Object.entries(moves)) {
        expect(PASS_STATUSES).toContain(from);
        for (const status of to) expect(PASS_STATUSES).toContain(status);
      }
  });

  it('the README shows the status diagram drawn from the table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme, 'run: node --import tsx scripts/status-diagram.ts').toBe(withDiagram(readme));
    expect(readme).toContain(statusDiagram());
  });
});

describe('a held pass is changed only under the claim its caller saw', () => {
  it.each([
    ['recordSubmission', (pass: Pass) => recordSubmission(pass, { token: 'old', backendIds: new Map() }, NOW)],
    ['failSubmission', (pass: Pass) => failSubmission(pass, { token: 'old', reason: 'x', backendIds: new Map() }, NOW)],
    ['renewLease', (pass: Pass) => renewLease(pass, { token: 'old', leaseSeconds: 900 }, NOW)],
    ['observe', (pass: Pass) => observe(pass, { ...observed([]), token: 'old' }, NOW)],
    ['lose', (pass: Pass) => lose(pass, { token: 'old', reason: 'x' }, NOW)],
    ['finishCancel', (pass: Pass) => finishCancel({ ...pass, cancel_requested: 'now' }, { token: 'old' }, NOW)],
  ] as const)('%s with another token: unchanged, "its claim changed meanwhile"', (_name, run) => {
    expect(run(passIn('submitted'))).toEqual({ changed: false, reason: 'its claim changed meanwhile' });
  });
});

describe("a held pass without a claim (GASP's client submitted it)", () => {
  it('is left to that client: gasp neither observes, releases nor unlocks it', () => {
    const { claim: _claim, ...unclaimed } = passIn('running');
    expect(
      observe(
        unclaimed,
        { ...observed([[0, { backend: { state: 'completed', exitCode: 0 } }]]), token: undefined },
        NOW,
      ),
    ).toEqual({ changed: false, reason: "GASP's client holds it (no gasp claim)" });
    expect(unlock(unclaimed, { site: unclaimed.site ?? '', reason: 'dead' }, NOW)).toEqual({
      changed: false,
      reason: "GASP's client holds it (no gasp claim)",
    });
  });
});

describe('claiming and submitting', () => {
  it('claim: submitted, held by the site under a new token with a lease, one more attempt, fresh subjobs', () => {
    const outcome = claim(
      passIn('waiting', { subjobs: [{ index: 0, backend_id: 'old', state: 'failed', exit_code: 3 }] }),
      { site: 'ral', token: 'new', leaseSeconds: 900 },
      NOW,
    );
    expect(outcome.changed && outcome.pass).toMatchObject({
      status: 'submitted',
      site: 'ral',
      claim: { token: 'new', at: NOW.toISOString(), lease_until: '2026-12-01T12:15:00.000Z' },
      attempts: [{ site: 'ral', status: 'submitted', started: NOW.toISOString(), token: 'new' }],
      subjobs: [{ index: 0 }],
    });
  });

  it('claim refuses a waiting pass a site already holds (a view that lagged)', () => {
    expect(claim(passIn('waiting', { site: 'sfu' }), { site: 'ral', token: 'n', leaseSeconds: 9 }, NOW)).toEqual({
      changed: false,
      reason: 'site sfu holds it',
    });
  });

  it('failSubmission: failed, its attempt closed with the reason, the jobs it did submit recorded and to be stopped', () => {
    const outcome = failSubmission(
      passIn('submitted', { subjobs: [{ index: 0 }, { index: 1 }] }),
      { token: TOKEN, reason: 'refused', backendIds: new Map([[0, 'job-7']]) },
      NOW,
    );
    expect(outcome.changed && outcome.pass.attempts.at(-1)).toMatchObject({ status: 'failed', reason: 'refused' });
    expect(outcome.changed && outcome.pass.subjobs?.[0]).toMatchObject({ backend_id: 'job-7', state: 'failed' });
    expect(outcome.changed && outcome.effects).toEqual({ cancel: ['job-7'], unrecorded: true });
  });
});

describe('observe: the backend answer, the manifests and the policy decide', () => {
  const manifest = (exitCode: number) => ({ exit_code: exitCode, outputs: [] });
  const two = (pass: Partial<Pass> = {}) =>
    passIn('submitted', {
      subjobs: [
        { index: 0, backend_id: 'a', state: 'queued' },
        { index: 1, backend_id: 'b', state: 'queued' },
      ],
      ...pass,
    });

  it('a job running: the pass is running, nothing to do outside', () => {
    const outcome = observe(
      two(),
      observed([
        [0, { backend: { state: 'running' } }],
        [1, { backend: { state: 'queued' } }],
      ]),
      NOW,
    );
    expect(outcome).toMatchObject({ changed: true, event: 'running', pass: { status: 'running' }, effects: {} });
  });

  it('all ended well: completed, the manifests recorded, the logs attached, the attempt closed with exit 0', () => {
    const outcome = observe(
      two(),
      observed([
        [0, { backend: { state: 'completed' }, manifest: manifest(0) }],
        [1, { backend: { state: 'completed' }, manifest: manifest(0) }],
      ]),
      NOW,
    );
    expect(outcome).toMatchObject({
      event: 'completed',
      pass: { status: 'completed' },
      effects: { logs: true, outputs: [0, 1] },
    });
    expect(outcome.changed && outcome.pass.attempts.at(-1)).toMatchObject({ status: 'completed', exit_code: 0 });
  });

  it('one failed, one ended well: partFail, with the failing exit code and why', () => {
    const outcome = observe(
      two(),
      observed([
        [0, { backend: { state: 'failed' }, manifest: { ...manifest(20), error: 'Geant4 stopped' } }],
        [1, { backend: { state: 'completed' }, manifest: manifest(0) }],
      ]),
      NOW,
    );
    expect(outcome).toMatchObject({ event: 'partFail', reason: 'Geant4 stopped', effects: { outputs: [1] } });
    expect(outcome.changed && outcome.pass.attempts.at(-1)).toMatchObject({ status: 'partFail', exit_code: 20 });
  });

  it('outputs that are not in storage as the manifest says: the job failed', () => {
    const outcome = observe(
      passIn('running'),
      observed([
        [0, { backend: { state: 'completed' }, manifest: manifest(0), outputsWrong: 'file:///x is not in storage' }],
      ]),
      NOW,
    );
    expect(outcome).toMatchObject({ event: 'failed', reason: 'file:///x is not in storage' });
  });

  it('a wrapper backend whose job left no manifest: failed', () => {
    const outcome = observe(
      passIn('running'),
      observed([[0, { backend: { state: 'completed', exitCode: 0 } }]], { runsWrapper: true }),
      NOW,
    );
    expect(outcome).toMatchObject({ event: 'failed', reason: 'the job left no manifest' });
  });

  it('a job the backend forgot, with no manifest: back to waiting, the attempt lost, its running sibling and unrecorded jobs stopped', () => {
    const outcome = observe(
      two(),
      observed([
        [0, { backend: { state: 'lost' } }],
        [1, { backend: { state: 'running' } }],
      ]),
      NOW,
    );
    expect(outcome).toMatchObject({
      event: 'lost',
      pass: { status: 'waiting' },
      effects: { cancel: ['b'], unrecorded: true },
    });
    expect(outcome.changed && outcome.pass.site).toBeUndefined();
    expect(outcome.changed && outcome.pass.attempts.at(-1)).toMatchObject({
      status: 'lost',
      finished: NOW.toISOString(),
    });
  });

  it('a job the backend forgot that left a manifest: it ended, by its manifest', () => {
    const outcome = observe(
      passIn('running'),
      observed([[0, { backend: { state: 'lost' }, manifest: manifest(0) }]]),
      NOW,
    );
    expect(outcome).toMatchObject({ event: 'completed' });
  });

  it('a failure its label policy calls transient: resubmitted as a new attempt while attempts remain, else failed', () => {
    const policy = {
      _id: 'policy:mc',
      type: 'policy' as const,
      label: 'mc',
      retry_on: ['Stale file handle'],
      max_attempts: 2,
    };
    const facts = observed([[0, { backend: { state: 'failed', exitCode: 1 }, logs: ['... Stale file handle ...'] }]], {
      policy,
    });
    const again = observe(passIn('running'), facts, NOW);
    expect(again).toMatchObject({ event: 'resubmitted', pass: { status: 'waiting' }, effects: { logs: true } });
    expect(again.changed && again.pass.attempts.at(-1)).toMatchObject({ status: 'failed', exit_code: 1 });
    const spent = passIn('running', {
      attempts: [
        { site: 'sfu', status: 'failed', started: 'a', token: 'old' },
        { site: 'sfu', status: 'submitted', started: 'b', token: TOKEN },
      ],
    });
    expect(observe(spent, facts, NOW)).toMatchObject({ event: 'failed', pass: { status: 'failed' } });
  });
});

describe('letting a held pass go: one way back to waiting', () => {
  it('a pass whose cancel was asked is canceled, not left waiting to be claimed again', () => {
    const asked = passIn('running', { cancel_requested: '2026-12-01T11:00:00.000Z' });
    for (const outcome of [
      lose(asked, { token: TOKEN, reason: 'gone' }, NOW),
      returnExpired(asked, { aliveSites: new Set() }, NOW),
      unlock(asked, { site: 'sfu', reason: 'released' }, NOW),
    ]) {
      expect(outcome).toMatchObject({ changed: true, event: 'canceled', pass: { status: 'canceled' } });
      expect(outcome.changed && outcome.pass.cancel_requested).toBeUndefined();
    }
  });

  it('returnExpired leaves a pass whose lease runs on, and one whose site is alive', () => {
    const runsOn = passIn('running', { claim: { token: TOKEN, at: 'x', lease_until: '2026-12-01T12:30:00.000Z' } });
    expect(returnExpired(runsOn, { aliveSites: new Set() }, NOW)).toEqual({
      changed: false,
      reason: 'its lease runs until 2026-12-01T12:30:00.000Z',
    });
    expect(returnExpired(passIn('running'), { aliveSites: new Set(['sfu']) }, NOW)).toMatchObject({ changed: false });
    expect(returnExpired(passIn('running'), { aliveSites: new Set() }, NOW)).toMatchObject({
      changed: true,
      pass: {
        status: 'waiting',
        attempts: [{ status: 'lost', reason: 'lease of site sfu expired and no client of it is alive' }],
      },
    });
  });

  it('releaseUnsubmitted refuses a pass with a job in the backend', () => {
    expect(releaseUnsubmitted(passIn('submitted'), { token: TOKEN, reason: 'stop' }, NOW)).toEqual({
      changed: false,
      reason: 'a job of it was submitted',
    });
  });

  it('retry: waiting again with fresh subjobs, its closed attempts kept, a stale cancel request dropped', () => {
    const failed = passIn('failed', {
      attempts: [{ site: 'sfu', status: 'failed', started: 'a', finished: 'b', token: 't', exit_code: 3 }],
      cancel_requested: 'x',
      subjobs: [{ index: 0, backend_id: 'j', state: 'failed', exit_code: 3 }],
    });
    const outcome = retry(failed);
    expect(outcome.changed && outcome.pass).toEqual({
      ...failed,
      status: 'waiting',
      cancel_requested: undefined,
      subjobs: [{ index: 0 }],
    });
  });
});

describe("a shifter's tools", () => {
  it('cancel: a waiting pass at once; a held one is asked of its site once', () => {
    expect(cancel(passIn('waiting'), NOW)).toMatchObject({ changed: true, pass: { status: 'canceled' } });
    const asked = cancel(passIn('running'), NOW);
    expect(asked).toMatchObject({
      changed: true,
      event: 'cancelAsked',
      pass: { status: 'running', cancel_requested: NOW.toISOString() },
    });
    expect(asked.changed && cancel(asked.pass, NOW)).toMatchObject({ changed: false });
  });

  it('finishCancel: canceled, its attempt closed as canceled, its jobs and unrecorded ones stopped', () => {
    const outcome = finishCancel(passIn('running', { cancel_requested: 'x' }), { token: TOKEN }, NOW);
    expect(outcome).toMatchObject({ event: 'canceled', effects: { cancel: ['job-1'], unrecorded: true } });
    expect(outcome.changed && outcome.pass.attempts.at(-1)).toMatchObject({
      status: 'canceled',
      reason: 'canceled by a shifter',
    });
    expect(outcome.changed && outcome.pass.site).toBeUndefined();
  });

  it('copy: what the pass runs, not what a run of it left', () => {
    const source = passIn('completed', {
      ratdb_tag: 'v1',
      request: 'r',
      request_entry: 0,
      attempts: [{ site: 's', status: 'completed', started: 'a' }],
      subjobs: [{ index: 0, events: 10, backend_id: 'j', state: 'completed' }],
    });
    expect(copy(source, { number: 4, token: 'like' }, NOW)).toEqual({
      pass: 4,
      status: 'waiting',
      rat_version: '8.0.0',
      label: 'mc',
      priority: 0,
      ratdb_tag: 'v1',
      created: NOW.toISOString(),
      attempts: [],
      like: { pass: 1, token: 'like' },
      subjobs: [{ index: 0, events: 10 }],
    });
  });
});
