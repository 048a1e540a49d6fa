import { describe, expect, it } from 'vitest';
import {
  leaseEnd,
  leaseExpired,
  leaseState,
  leaseTakeable,
  renewalDue,
  storedLeaseEnd,
  takesOver,
  type LeaseHolderId,
  type LeaseState,
  type StoredLease,
} from '../src/model/lease.js';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();

describe('leaseEnd', () => {
  it.each([
    { seconds: 60, end: '2026-12-01T12:01:00.000Z' },
    { seconds: 0.5, end: '2026-12-01T12:00:00.500Z' },
    { seconds: 0, end: '2026-12-01T12:00:00.000Z' },
  ])('a lease of $seconds s taken at noon ends at $end', ({ seconds, end }) => {
    expect(leaseEnd(NOW, seconds)).toBe(end);
  });
});

describe('leaseExpired', () => {
  it.each([
    { until: at(-1), expired: true },
    { until: at(0), expired: true },
    { until: at(0.001), expired: false },
    { until: at(60), expired: false },
  ])('a lease until $until at noon: expired $expired', ({ until, expired }) => {
    expect(leaseExpired(until, NOW)).toBe(expired);
  });
});

describe('renewalDue', () => {
  it.each([
    { left: 60, due: false },
    { left: 31, due: false },
    { left: 30, due: false },
    { left: 29, due: true },
    { left: 0, due: true },
    { left: -5, due: true },
  ])('a 60 s lease with $left s left: renewal due $due', ({ left, due }) => {
    expect(renewalDue(at(left), NOW, 60)).toBe(due);
  });
});

describe('storedLeaseEnd', () => {
  it.each([
    { what: 'its until', stored: { until: at(5), renewed: at(-100) }, end: at(5) },
    { what: 'without until (an older lock): its renewal plus the seconds', stored: { renewed: at(-10) }, end: at(50) },
    { what: 'with neither: none', stored: {}, end: undefined },
  ])('$what', ({ stored, end }) => {
    expect(storedLeaseEnd(stored, 60)).toBe(end);
  });
});

describe('leaseState: where a lease stands for one who wants it', () => {
  const me = { host: 'here', instance: 'me' };
  const alive = new Set([100]);
  const held = (fields: Partial<LeaseHolderId> & { until?: string; renewed?: string }): StoredLease => {
    const { until, renewed, ...holder } = fields;
    return {
      holder: { host: 'there', pid: 100, instance: 'other', ...holder },
      ...(until !== undefined && { until }),
      ...(renewed !== undefined && { renewed }),
    };
  };
  const rows: Array<{ what: string; stored: StoredLease | undefined; holdsIt?: boolean; state: LeaseState }> = [
    { what: 'no document', stored: undefined, state: 'free' },
    { what: 'another holder elsewhere, before its end', stored: held({ until: at(30) }), state: 'held' },
    { what: 'another holder elsewhere, at its end', stored: held({ until: at(0) }), state: 'expired' },
    { what: 'another holder elsewhere, past its end', stored: held({ until: at(-1) }), state: 'expired' },
    { what: 'a live process on this host', stored: held({ host: 'here', until: at(30) }), state: 'held' },
    { what: 'a dead process on this host', stored: held({ host: 'here', pid: 200, until: at(30) }), state: 'dead' },
    { what: 'a dead process elsewhere (cannot be seen)', stored: held({ pid: 200, until: at(30) }), state: 'held' },
    {
      what: 'a dead process on this host, past its end',
      stored: held({ host: 'here', pid: 200, until: at(-1) }),
      state: 'expired',
    },
    {
      what: 'this holder, which holds it now',
      stored: held({ host: 'here', instance: 'me', until: at(30) }),
      holdsIt: true,
      state: 'mine',
    },
    {
      what: 'this holder, which holds it now, past its end (another use of it waits all the same)',
      stored: held({ host: 'here', instance: 'me', until: at(-1) }),
      holdsIt: true,
      state: 'mine',
    },
    {
      what: 'this holder, which does not hold it now (a failed release)',
      stored: held({ host: 'here', instance: 'me', until: at(30) }),
      state: 'left',
    },
    { what: 'an older lock, renewed within the seconds', stored: held({ renewed: at(-59) }), state: 'held' },
    { what: 'an older lock, renewed longer ago', stored: held({ renewed: at(-61) }), state: 'expired' },
    { what: 'a document with no end', stored: held({}), state: 'expired' },
    { what: 'a document with no holder', stored: { until: at(30) }, state: 'expired' },
  ];
  it.each(rows)('$what: $state', ({ stored, holdsIt = false, state }) => {
    expect(leaseState(stored, NOW, 60, { ...me, holdsIt, alive: (pid) => alive.has(pid) })).toBe(state);
  });
});

describe('who may take a lease', () => {
  it.each([
    { state: 'free', takeable: true, takeOver: false },
    { state: 'left', takeable: true, takeOver: true },
    { state: 'expired', takeable: true, takeOver: true },
    { state: 'dead', takeable: true, takeOver: true },
    { state: 'mine', takeable: false, takeOver: false },
    { state: 'held', takeable: false, takeOver: false },
  ] as const)('$state: takeable $takeable, replaces a document $takeOver', ({ state, takeable, takeOver }) => {
    expect(leaseTakeable(state)).toBe(takeable);
    expect(takesOver(state)).toBe(takeOver);
  });
});
