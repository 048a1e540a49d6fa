import { spawnSync } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServerClock } from '../src/db/clock.js';
import type { Database } from '../src/db/database.js';
import { UnreachableError } from '../src/db/errors.js';
import { DocumentLease, type LeaseDoc } from '../src/db/lease.js';
import { LeaseHolder } from '../src/db/holder.js';
import { UnavailableError } from '../src/errors.js';
import { Lease } from '../src/submit/lease.js';
import { testCouch, useTestDatabase } from './support/couch.js';
import { couchAt } from './support/test-server.js';

const test = useTestDatabase('lease');

interface GuardDoc extends LeaseDoc {
  type: 'guard';
}

let named = 0;
/** A lease on a document of its own per test, through `db` (its handle's holder unless `holder` is given). */
function lease(db: Database, id: string, seconds: number, holder?: LeaseHolder): DocumentLease<GuardDoc> {
  return new DocumentLease<GuardDoc>(db, new ServerClock(db.couch), {
    id,
    name: id,
    seconds,
    document: (fields) => ({ _id: id, type: 'guard', ...fields }),
    ...(holder !== undefined && { holder }),
  });
}
const freshId = () => `guard:${++named}`;

/** Another client of the same database: its own handle, so its own holder. */
const otherHandle = () => testCouch().use(test.db.name);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
  vi.useRealTimers();
});

describe('a document lease on the server clock', () => {
  it('takes a free lease: one document naming this holder, ending its seconds after the server time of the take', async () => {
    const id = freshId();
    const mine = lease(test.db, id, 60);
    expect(await mine.tryTake()).toEqual({ taken: true });
    const stored = await test.db.get<GuardDoc>(id);
    expect(stored.holder).toEqual({ host: hostname(), pid: process.pid, instance: test.db.leaseHolder.instance });
    expect(stored.taken).toBe(stored.renewed);
    expect(Date.parse(stored.until) - Date.parse(stored.renewed)).toBe(60_000);
    expect(mine.held?._rev).toBe(stored._rev);
  });

  it('is refused, naming the holder, while another holder has it and while another use of the same holder has it', async () => {
    const id = freshId();
    await lease(test.db, id, 60).tryTake();
    const other = await lease(otherHandle(), id, 60).tryTake();
    expect(other).toMatchObject({ taken: false, holder: { holder: { instance: test.db.leaseHolder.instance } } });
    const sameHolder = await lease(test.db, id, 60).tryTake();
    expect(sameHolder).toMatchObject({ taken: false, holder: { holder: { instance: test.db.leaseHolder.instance } } });
  });

  it("is taken over once it ends by the server's clock, not by the taker's own clock ten minutes fast", async () => {
    const id = freshId();
    // long enough that the refusal below comes before its end on a loaded machine, with the clock's one-second resolution
    await lease(test.db, id, 4).tryTake();
    // only Date is faked, and frozen ten minutes ahead: the taker's own clock is wrong, timers and sockets are real
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 600_000 });
    const fast = lease(otherHandle(), id, 4);
    expect(await fast.tryTake()).toMatchObject({ taken: false });
    let attempt = await fast.tryTake();
    for (let tries = 0; !attempt.taken && tries < 50; tries++) {
      await sleep(100);
      attempt = await fast.tryTake();
    }
    expect(attempt).toMatchObject({ taken: true, replaced: { state: 'expired' } });
    expect((await test.db.get<GuardDoc>(id)).holder.instance).toBe(fast.holder.instance);
  });

  it('is taken over at once when its holder ran on this host and its process is gone', async () => {
    const id = freshId();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await test.db.put({
      _id: id,
      type: 'guard',
      holder: { host: hostname(), pid: gone, instance: 'a process that exited' },
      taken: future,
      renewed: future,
      until: future,
    });
    expect(await lease(test.db, id, 60).tryTake()).toMatchObject({ taken: true, replaced: { state: 'dead' } });
  });

  it('renews: a later end, the same holder; before half its time renewIfDue writes nothing', async () => {
    const id = freshId();
    const mine = lease(test.db, id, 60);
    await mine.tryTake();
    const first = await test.db.get<GuardDoc>(id);
    expect(await mine.renewIfDue()).toBe(true);
    expect((await test.db.get<GuardDoc>(id))._rev).toBe(first._rev);
    await sleep(1_100);
    expect(await mine.renew()).toBe(true);
    const renewed = await test.db.get<GuardDoc>(id);
    expect(renewed._rev).not.toBe(first._rev);
    expect(renewed.until > first.until).toBe(true);
    expect({ holder: renewed.holder, taken: renewed.taken }).toEqual({ holder: first.holder, taken: first.taken });
  });

  it('says lost when renewed after another holder took it over, and holds nothing after', async () => {
    const id = freshId();
    const mine = lease(test.db, id, 1);
    await mine.tryTake();
    const other = lease(otherHandle(), id, 60);
    let attempt = await other.tryTake();
    for (let tries = 0; !attempt.taken && tries < 50; tries++) {
      await sleep(100);
      attempt = await other.tryTake();
    }
    expect(attempt).toMatchObject({ taken: true, replaced: { state: 'expired' } });
    expect(await mine.renew()).toBe(false);
    expect(mine.held).toBeUndefined();
    expect(await mine.renewIfDue()).toBe(false);
    // nor does its release touch the other's lease
    await mine.release();
    expect((await test.db.get<GuardDoc>(id)).holder.instance).toBe(other.holder.instance);
  });

  it('knows before its next write that another took the lease over while it was paused, though by its own clock the lease still runs', async () => {
    const id = freshId();
    const mine = lease(test.db, id, 60);
    await mine.tryTake();
    expect(await mine.stillHeld()).toBe(true);
    // its VM stopped past the lease's end, its clock with it: by the server's, another took the lease
    const stored = await test.db.get<GuardDoc>(id);
    const other = { ...stored.holder, instance: 'another-holder', pid: stored.holder.pid + 1 };
    await test.db.put({ ...stored, holder: other });
    expect(await mine.renewIfDue()).toBe(false);
    expect(mine.held).toBeUndefined();
    expect(await mine.stillHeld()).toBe(false);
    await mine.release();
    expect((await test.db.get<GuardDoc>(id)).holder.instance).toBe('another-holder');
  });

  it('releases: the document is gone and another holder takes it at once', async () => {
    const id = freshId();
    const mine = lease(test.db, id, 60);
    await mine.tryTake();
    await mine.release();
    expect(await test.db.find(id)).toBeUndefined();
    expect(await lease(otherHandle(), id, 60).tryTake()).toEqual({ taken: true });
  });

  it('is taken back by its own holder after a release that failed (the database was away), and by no other holder', async () => {
    const id = freshId();
    const proxy = await proxyToTestServer();
    const away = couchAt(proxy.url, { retry: { attempts: 1, baseMs: 10, maxMs: 10 } }).use(test.db.name);
    const mine = lease(away, id, 60);
    await mine.tryTake();
    await proxy.close();
    await expect(mine.release()).rejects.toBeInstanceOf(UnreachableError);
    expect(await lease(otherHandle(), id, 60).tryTake()).toMatchObject({ taken: false });
    const again = await lease(otherHandle(), id, 60, away.leaseHolder).tryTake();
    expect(again).toMatchObject({ taken: true, replaced: { state: 'left' } });
  });
});

describe('the submit lease of a request', () => {
  it('refuses a second submit of the request while the first holds it, through the same handle or another; free once released', async () => {
    const first = await Lease.take(test.db, 'submit:req-0123456789abcdef');
    const message =
      /^submit:req-0123456789abcdef is being written by process \d+ on .* \(its lease ends .*\); run the same command again after that$/;
    for (const db of [test.db, otherHandle()]) {
      const refused = await Lease.take(db, 'submit:req-0123456789abcdef').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UnavailableError);
      expect((refused as Error).message).toMatch(message);
    }
    await first.release();
    expect(await test.db.find('lease:submit:req-0123456789abcdef')).toBeUndefined();
    await (await Lease.take(otherHandle(), 'submit:req-0123456789abcdef')).release();
  });

  it('judges the lease by server time: its document ends LEASE_SECONDS after the server time of the take', async () => {
    const clock = new ServerClock(test.db.couch);
    await clock.sync();
    const taken = Date.now();
    // the local clock an hour slow: a lease judged by it would end an hour early
    vi.useFakeTimers({ toFake: ['Date'], now: taken - 3_600_000 });
    const submit = await Lease.take(test.db, 'submit:req-server-time');
    vi.useRealTimers();
    const stored = await test.db.get<LeaseDoc>('lease:submit:req-server-time');
    expect(Math.abs(Date.parse(stored.until) - (taken + 60_000))).toBeLessThan(3_000);
    await submit.release();
  });
});

/** A TCP proxy to the test server, to take the database away from one handle while others still reach it. */
async function proxyToTestServer(): Promise<{ url: URL; close: () => Promise<void> }> {
  const target = new URL(testCouch().url);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
