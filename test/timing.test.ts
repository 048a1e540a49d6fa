import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import type { JobDoc, Pass } from '../src/model/documents.js';
import { spread } from '../src/timing/timing.js';
import { gaspOn } from './support/cli.js';
import { databaseWithJobs, jobs } from './support/jobs.js';

let db: Database;

const gasp = (args: string[]) => gaspOn(db, args);

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, seconds)).toISOString();

/**
 * Four passes of 10 events with known times: at site a, runs of 100 s and 300 s that started 10 s
 * and 30 s after their claim; at site b, one of 50 s (20 s queued) and one that failed with 30.
 */
const KNOWN: Array<{ site: string; wall: number; queue: number; exit: number }> = [
  { site: 'a', wall: 100, queue: 10, exit: 0 },
  { site: 'a', wall: 300, queue: 30, exit: 0 },
  { site: 'b', wall: 50, queue: 20, exit: 0 },
  { site: 'b', wall: 5, queue: 40, exit: 30 },
];

beforeAll(async () => {
  db = await databaseWithJobs(4, 'timing');
  const docs = (await jobs(db)).map((doc, index): JobDoc => {
    const known = KNOWN[index] ?? { site: 'a', wall: 1, queue: 1, exit: 0 };
    const status: Pass['status'] = known.exit === 0 ? 'completed' : 'failed';
    const pass = doc.passes[0] as Pass;
    const ran = {
      host: 'node1',
      started: at(known.queue),
      finished: at(known.queue + known.wall),
      wrapper_version: '1',
    };
    return {
      ...doc,
      passes: [
        {
          ...pass,
          status,
          site: known.site,
          attempts: [
            { site: known.site, status, started: at(0), finished: at(known.queue + known.wall + 5), token: 't' },
          ],
          subjobs: [
            {
              index: 0,
              state: status,
              exit_code: known.exit,
              backend_id: `${index}`,
              started: at(1),
              finished: at(known.queue + known.wall + 5),
              ran,
            },
          ],
        },
      ],
    };
  });
  await db.bulkDocs(docs);
});

describe('gasp timing', () => {
  it('gives wall time, time per event, queue wait and failures by exit code per module and site, from known times', async () => {
    const result = await gasp(['timing', '--label', 'enq', '--csv']);
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(','));
    expect(header).toEqual([
      'module',
      'site',
      'jobs',
      'failed',
      'wall s mean',
      'wall s median',
      'wall s p90',
      'wall s max',
      's/event median',
      's/event p90',
      'queue s median',
      'queue s p90',
      'exit codes',
    ]);
    expect(rows).toEqual([
      // the median of two is their mean: 200 of 100 and 300, not the larger
      ['PartialPo210', 'a', '2', '0', '200', '200', '300', '300', '20.0', '30.0', '20.0', '30.0', '-'],
      ['PartialPo210', 'b', '2', '1', '50.0', '50.0', '50.0', '50.0', '5.0', '5.0', '30.0', '40.0', '30 ×1'],
    ]);
    const table = await gasp(['timing', '--label', 'enq']);
    expect(table.stdout.split('\n')[0]).toMatch(/^module +site +jobs +failed +wall s mean/);
    expect(table.stdout).toMatch(/^PartialPo210 +b +2 +1 +50\.0 .* 30 ×1$/m);
  });

  it('takes the median of an even count as the mean of its two middle values', () => {
    expect(spread([300, 100])?.median).toBe(200);
    expect(spread([4, 1, 3, 2])?.median).toBe(2.5);
    expect(spread([3, 1, 2])?.median).toBe(2);
    expect(spread([7])?.median).toBe(7);
  });

  it('draws a histogram of time per event per module and wall time by site as SVG files made by ECharts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-plots-'));
    const result = await gasp(['timing', '--label', 'enq', '--plots', dir]);
    expect(result.stdout).toContain(`wrote ${join(dir, 'time-per-event.svg')}`);
    for (const [name, mustShow] of [
      ['time-per-event.svg', ['Time per event, by module', 'PartialPo210', 'seconds per event']],
      ['wall-time-by-site.svg', ['Wall time of completed jobs, by site', '>a<', '>b<']],
    ] as const) {
      const svg = readFileSync(join(dir, name), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      // drawn shapes, not an empty frame
      expect((svg.match(/<path /g) ?? []).length).toBeGreaterThan(5);
      for (const text of mustShow) expect(svg).toContain(text);
    }
  });
});

describe('gasp summary run time', () => {
  it("is the jobs' own run time (the wrapper's start to end), not the claim to when the client saw them end", async () => {
    // 100, 300, 50 and 5 s of running, each inside an attempt 15 to 45 s longer
    const known = await gasp(['summary', '--label', 'enq']);
    expect(known.stdout).toContain('  run time: mean 114 s, spread 113 s over 4 ended passes\n');

    // two jobs of 0.1 and 0.3 s that the client saw end 10 s after it claimed them
    const short = await databaseWithJobs(2, 'short-jobs');
    const ms = (milliseconds: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, 0, milliseconds)).toISOString();
    const docs = (await jobs(short)).map((doc, index): JobDoc => {
      const pass = doc.passes[0] as Pass;
      const ran = { host: 'node1', started: ms(1_000), finished: ms(1_100 + 200 * index), wrapper_version: '1' };
      const attempts = [{ site: 'a', status: 'completed' as const, started: ms(0), finished: ms(10_000), token: 't' }];
      return {
        ...doc,
        passes: [
          {
            ...pass,
            status: 'completed',
            site: 'a',
            attempts,
            subjobs: [{ index: 0, state: 'completed', exit_code: 0, ran }],
          },
        ],
      };
    });
    await short.bulkDocs(docs);
    const result = await gaspOn(short, ['summary', '--label', 'enq']);
    expect(result.stdout).toContain('  run time: mean 0.2 s, spread 0.1 s over 2 ended passes\n');
    await short.destroy();
  });
});
