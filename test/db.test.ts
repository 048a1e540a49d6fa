import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactDatabases } from '../src/db/compact.js';
import { Couch } from '../src/db/couch.js';
import { ConflictError, DbError, NotFoundError, UnreachableError } from '../src/db/errors.js';
import { Secret } from '../src/secret.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { freePort } from '../src/server/ports.js';
import { testCouch, useTestDatabase } from './support/couch.js';
import { captureLog, INFO, WARN } from './support/log.js';

const test = useTestDatabase('db');

describe('documents', () => {
  it('maps a real 409 from a stale write to ConflictError', async () => {
    await test.db.put({ _id: 'conflicted' });
    const error = await test.db.put({ _id: 'conflicted' }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ statusCode: 409, error: 'conflict', code: 'E_CONFLICT' });
  });

  it('maps a missing document to NotFoundError, and find gives undefined', async () => {
    await expect(test.db.get('absent')).rejects.toBeInstanceOf(NotFoundError);
    await expect(test.db.find('absent')).resolves.toBeUndefined();
  });

  it("answers _bulk_docs row by row: a conflict is that row's answer, not a failed batch", async () => {
    const first = await test.db.put({ _id: 'bulk-a' });
    const rows = await test.db.bulkDocs([
      { _id: 'bulk-a', _rev: first.rev },
      { _id: 'bulk-b' },
      { _id: 'bulk-a', _rev: first.rev },
    ]);
    // one of the two writes of bulk-a wins; PouchDB Server may answer them in either order, so by id, not position
    const a = rows.filter((row) => row.id === 'bulk-a');
    expect(a.map((row) => row.ok).sort()).toEqual([false, true]);
    expect(a.find((row) => !row.ok)).toMatchObject({ id: 'bulk-a', ok: false, error: 'conflict' });
    expect(rows.find((row) => row.id === 'bulk-b')?.ok).toBe(true);
    const won = a.find((row) => row.ok);
    expect((await test.db.get('bulk-a'))._rev).toBe(won?.ok === true ? won.rev : 'missing');
  });

  it('gives each _bulk_docs row to its own document, though PouchDB Server answers updates out of order', async () => {
    const docs = Array.from({ length: 300 }, (_, index) => ({ _id: `order-${index}`, value: 0 }));
    let answers = await test.db.bulkDocs(docs);
    // the server's order varies from one write to the next: several rounds catch it
    for (let round = 1; round <= 6; round++) {
      answers = await test.db.bulkDocs(
        docs.map((doc, index) => ({
          ...doc,
          value: round,
          _rev: answers[index]?.ok === true ? answers[index].rev : 'missing',
        })),
      );
      expect(answers.map((row) => row.id)).toEqual(docs.map((doc) => doc._id));
      const stored = await test.db.allDocs({ keys: docs.map((doc) => doc._id) });
      expect(answers.map((row) => (row.ok ? row.rev : row.error))).toEqual(stored.rows.map((row) => row.value.rev));
    }
  });

  it('compacts: the old revisions every claim and heartbeat leave behind are dropped', async () => {
    let rev = (await test.db.put({ _id: 'churn', beat: 0 })).rev;
    for (let beat = 1; beat <= 30; beat++) rev = (await test.db.put({ _id: 'churn', _rev: rev, beat })).rev;
    const { log, lines } = captureLog();
    await compactDatabases(testCouch(), [test.db.name], log);
    expect(lines.map((line) => line.msg)).toEqual([
      expect.stringMatching(new RegExp(`^compacted ${test.db.name}: [\\d.]+ MB before, [\\d.]+ MB after`)),
    ]);
    const history = await until(async () => {
      const doc = await test.db.get<{ _id: string; _revs_info: Array<{ status: string }> }>('churn', {
        revs_info: 'true',
      });
      return doc._revs_info.filter((info) => info.status === 'available').length === 1 ? doc : undefined;
    });
    expect(history._revs_info[0]?.status).toBe('available');
  });

  it('says to push the views when a design document is missing', async () => {
    const error = await test.db.view('passes', 'ready_priority').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`${test.db.name} has no view passes/ready_priority (run gasp views push)`);
  });

  it('does not retry a request CouchDB calls wrong (4xx)', async () => {
    const { log, lines } = captureLog();
    const couch = testCouch({ log, retry: { attempts: 5, baseMs: 2_000, maxMs: 2_000 } });
    const started = Date.now();
    const error = await couch
      .use(test.db.name)
      .put({ _id: '_not_allowed' })
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DbError);
    expect((error as DbError).statusCode).toBe(400);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(lines).toEqual([]);
  });
});

describe('outages', () => {
  it("gives up after the policy's tries with one line that keeps the password out", async () => {
    const { log, lines, text } = captureLog('debug');
    const port = await freePort();
    const couch = new Couch({
      url: new URL(`http://127.0.0.1:${port}`),
      user: 'shifter',
      password: new Secret('hunter2'),
      retry: { attempts: 3, baseMs: 20, maxMs: 50 },
      log,
    });
    const error = await couch
      .use('data-production')
      .info()
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(UnreachableError);
    const message = (error as Error).message;
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toMatch(/gave up after 3 tries/);
    expect(message).not.toContain('\n');
    expect(message + text()).not.toContain('hunter2');
    expect(lines.filter((line) => line.level === WARN)).toHaveLength(1);
  });

  it('rides out an outage: one line when it starts, one when the database is back', async () => {
    const { log, lines } = captureLog();
    const port = await freePort();
    const couch = new Couch({
      url: new URL(`http://127.0.0.1:${port}`),
      retry: { attempts: 50, baseMs: 100, maxMs: 300 },
      log,
    });
    const answer = couch.welcome();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const dir = mkdtempSync(join(tmpdir(), 'gasp-outage-'));
    const server = await EmbeddedServer.start({ dir, port });
    try {
      await expect(answer).resolves.toHaveProperty('version');
      expect(lines.map((line) => [line.level, line.msg.split(' (')[0]])).toEqual([
        [WARN, 'CouchDB unavailable'],
        [INFO, expect.stringMatching(/^CouchDB reachable again after \d+\.\d+s$/)],
      ]);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Polls until `probe` gives a value (compaction finishes after its request answers). */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
