import { describe, expect, it } from 'vitest';
import { decide, type ReadyPass, type SiteState } from '../src/queue/decide.js';
import type { PassStatus } from '../src/model/status.js';

const pass = (fields: Partial<ReadyPass> & Pick<ReadyPass, 'run'>): ReadyPass => ({
  module: 'M',
  pass: 1,
  rat_version: '7.0.8',
  label: 'mc',
  priority: 0,
  created: '2026-11-01T00:00:00Z',
  ...fields,
});

const SITE: SiteState = {
  name: 's',
  mode: 'production',
  modes: ['production'],
  ratVersions: new Set(['7.0.8']),
  maxJobs: 10,
  running: 0,
  maxClaim: 10,
  pausedLabels: new Set(),
};
const none = () => undefined;
const runs = (passes: ReadyPass[]) => passes.map((item) => item.run);

describe('deciding what a site claims', () => {
  const candidates = [
    pass({ run: 2, priority: 1, created: '2026-11-03T00:00:00Z' }),
    pass({ run: 1, priority: 5, created: '2026-11-02T00:00:00Z' }),
    pass({ run: 3, priority: 5, created: '2026-11-01T00:00:00Z' }),
  ];

  it.each([
    ['priority', [3, 1, 2]],
    ['runlevel', [1, 2, 3]],
    ['newfirst', [3, 2, 1]],
    ['serial', [3, 1, 2]],
  ] as const)('orders by %s', (order, expected) => {
    expect(runs(decide(candidates, SITE, order, none).claim)).toEqual(expected);
  });

  it('takes no more than its free slots or max_claim', () => {
    expect(decide(candidates, { ...SITE, maxJobs: 10, running: 9 }, 'runlevel', none)).toMatchObject({
      claim: [{ run: 1 }],
      skipped: { noRoom: 2 },
    });
    expect(decide(candidates, { ...SITE, maxClaim: 2 }, 'runlevel', none).claim).toHaveLength(2);
    expect(decide(candidates, { ...SITE, running: 12 }, 'runlevel', none).claim).toHaveLength(0);
  });

  it('never takes a RAT version it does not have, a paused label, or a mode it does not run', () => {
    const mixed = [pass({ run: 1, rat_version: '7.1.0' }), pass({ run: 2, label: 'paused' }), pass({ run: 3 })];
    const decision = decide(mixed, { ...SITE, pausedLabels: new Set(['paused']) }, 'runlevel', none);
    expect(runs(decision.claim)).toEqual([3]);
    expect(decision.skipped).toMatchObject({ ratVersion: 1, paused: 1 });
    expect(decide(mixed, { ...SITE, mode: 'processing' }, 'runlevel', none).claim).toEqual([]);
  });

  it('waits for prerequisites to complete, and marks a pass whose prerequisite failed unsatisfied', () => {
    const ref = { module: 'Processing', run: 1, pass: 1 };
    const analysis = pass({ run: 1, module: 'Analysis', prerequisites: [ref] });
    const statusOf = (status: PassStatus) => () => status;
    expect(decide([analysis], SITE, 'runlevel', statusOf('running'))).toMatchObject({
      claim: [],
      skipped: { prerequisite: 1 },
    });
    expect(decide([analysis], SITE, 'runlevel', statusOf('completed')).claim).toHaveLength(1);
    expect(decide([analysis], SITE, 'runlevel', statusOf('failed'))).toMatchObject({
      claim: [],
      unsatisfied: [{ because: ref }],
    });
  });
});
