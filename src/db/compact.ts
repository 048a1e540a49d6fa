import type { Logger } from '../log.js';
import type { Couch } from './couch.js';

/**
 * Compacts each database and drops the indexes of views that no longer exist. Every claim, beat
 * and status change leaves an old revision behind; without compaction the files grow with every
 * cycle of every site. CouchDB 3 does this by itself (its compaction daemon); the embedded PouchDB
 * Server needs asking, which `gasp serve` does on a timer.
 */
export async function compactDatabases(couch: Couch, databases: readonly string[], log: Logger): Promise<void> {
  for (const name of databases) {
    const db = couch.use(name);
    const before = await db.info();
    await couch.request({ method: 'POST', db: name, path: '_compact', body: {} });
    await couch.request({ method: 'POST', db: name, path: '_view_cleanup', body: {} });
    const after = await db.info();
    const mb = (info: { disk_size?: number }) => ((info.disk_size ?? 0) / 1024 / 1024).toFixed(1);
    log.info(
      { database: name },
      `compacted ${name}: ${mb(before)} MB before, ${mb(after)} MB after (the file shrinks as compaction finishes)`,
    );
  }
}
