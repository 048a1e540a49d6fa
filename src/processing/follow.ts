import { sleep } from '../db/backoff.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { ProcessingInfoDoc, RunDoc } from '../model/documents.js';
import { processRuns, type ProcessOptions, type ProcessResult } from './process.js';

export interface FollowOptions extends ProcessOptions {
  intervalMs: number;
  signal: AbortSignal;
  log: Logger;
  /** Where to start in the changes feed; from the beginning by default, so runs added while nobody followed are caught up. */
  since?: unknown;
  /** After each batch of runs, for output and tests. */
  onProcessed?: (runs: readonly RunDoc[], result: ProcessResult) => void;
}

const PAGE = 500;

/**
 * Watches the database's changes feed for run documents and creates their processing jobs as they
 * come, until the signal aborts. The feed is read page by page (no long-held connection); outages
 * are retried by the database layer with backoff, logged when they start and end.
 */
export async function followRuns(db: Database, info: ProcessingInfoDoc, options: FollowOptions): Promise<void> {
  let since: unknown = options.since ?? 0;
  options.log.info({ database: db.name, rat: info.rat_version }, 'following new runs');
  while (!options.signal.aborted) {
    const page = await db.changes<RunDoc>({
      since,
      filter: '_view',
      view: 'runs/by_number',
      include_docs: true,
      limit: PAGE,
    });
    // a run still being written comes again in the feed when it is complete
    const runs = page.results.flatMap((change) =>
      change.deleted !== true && change.doc?.type === 'run' && change.doc.complete !== false ? [change.doc] : [],
    );
    if (runs.length > 0) {
      const result = await processRuns(db, runs, info, options);
      const created = result.jobs.filter((job) => job.created).length;
      options.log.info(
        { runs: runs.map((run) => run.run), created, skipped: result.skipped.length },
        `${runs.length} runs seen, ${created} jobs created`,
      );
      for (const line of result.skipped) options.log.warn(line);
      options.onProcessed?.(runs, result);
    }
    since = page.last_seq;
    if (page.results.length < PAGE) await sleep(options.intervalMs, options.signal);
  }
  options.log.info('stopped following runs');
}
