import type { Database } from '../../src/db/database.js';
import { silentLogger } from '../../src/log.js';
import type { ProcessingInfoDoc } from '../../src/model/documents.js';
import { followRuns } from '../../src/processing/follow.js';

/** Follows new runs (polling every 100 ms) until `run` has been processed; resolves with every run seen. */
export async function followUntilSeen(db: Database, info: ProcessingInfoDoc, run: number): Promise<number[]> {
  const controller = new AbortController();
  const seen: number[] = [];
  await followRuns(db, info, {
    label: 'proc',
    priority: 0,
    prereqPass: 'latest',
    intervalMs: 100,
    signal: controller.signal,
    log: silentLogger,
    onProcessed: (runs) => {
      seen.push(...runs.map((item) => item.run));
      if (seen.includes(run)) controller.abort();
    },
  });
  return seen;
}
