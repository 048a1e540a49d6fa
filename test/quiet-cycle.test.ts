import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import { runCycle } from '../src/client/cycle.js';
import { Database, type CouchRequest, type Server } from '../src/db/database.js';
import { heartbeatId } from '../src/model/coordination.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { testCouch } from './support/couch.js';
import { context, databaseWithJobs } from './support/jobs.js';

/** The test server, counting the requests made through it. */
class Counting implements Server {
  requests: string[] = [];
  constructor(readonly inner: Server) {}
  get url() {
    return this.inner.url;
  }
  request<T>(request: CouchRequest): Promise<T> {
    this.requests.push(`${request.method ?? 'GET'} ${request.path ?? request.doc ?? ''}`);
    return this.inner.request<T>(request);
  }
}

describe('an idle site', () => {
  it('makes one request a cycle while nothing it reads changes, and claims a pass that appears at its next cycle', async () => {
    const seeded = await databaseWithJobs(2, 'quiet');
    const server = new Counting(testCouch());
    const db = new Database(server, seeded.name);
    const dry = new DryBackend();
    const ctx = context(db, 'idle-site', dry);
    // the first cycle claims both; the next ones hold them until the dry backend says they ended
    for (let cycle = 0; cycle < 10 && (await runCycle(ctx, { submit: true, monitor: true })).completed < 2; cycle++);
    expect(dry.submitted).toHaveLength(2);
    // the cycle after the last job ended holds nothing and finds nothing to do
    expect((await runCycle(ctx, { submit: true, monitor: true })).quiet).toBeUndefined();
    // it found nothing to do: from now on it only asks what changed
    expect((await runCycle(ctx, { submit: true, monitor: true })).quiet).toBe(true);
    const quiet = [];
    for (let cycle = 0; cycle < 5; cycle++) {
      // another site's heartbeat is a change no cycle reads
      await seeded.put({ _id: heartbeatId(`other-${cycle}`, 'production'), type: 'heartbeat' });
      server.requests = [];
      const stats = await runCycle(ctx, { submit: true, monitor: true });
      quiet.push({ requests: server.requests.length, quiet: stats.quiet === true });
    }
    expect(quiet).toEqual(Array.from({ length: 5 }, () => ({ requests: 1, quiet: true })));
    expect(server.requests).toEqual(['GET _changes']);
    // a new request is a change it reads: claimed at its next cycle
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-quiet-')), 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'later',
        modules: [{ module: 'PartialPo210', n_ev: 10, ev_per_run: 10, template: { fill_volume: 'lower' } }],
      }),
    );
    await submitRequestFile(seeded, file);
    const woken = await runCycle(ctx, { submit: true, monitor: true });
    expect(woken.quiet).toBeUndefined();
    expect(woken.claimed).toBe(1);
  });
});
