import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { Couch, type CouchOptions } from '../../src/db/couch.js';
import type { Database } from '../../src/db/database.js';

export function testCouch(options: Partial<CouchOptions> = {}): Couch {
  return new Couch({ url: new URL(inject('couchUrl')), retry: { attempts: 2, baseMs: 50, maxMs: 200 }, ...options });
}

export function uniqueName(prefix: string): string {
  return `t-${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A fresh database for this test file, created before its tests and dropped after them. */
export function useTestDatabase(prefix: string): { readonly db: Database } {
  const holder: { db?: Database } = {};
  beforeAll(async () => {
    holder.db = testCouch().use(uniqueName(prefix));
    await holder.db.create();
  });
  afterAll(async () => {
    await holder.db?.destroy();
  });
  return {
    get db(): Database {
      if (holder.db === undefined) throw new Error('the test database exists only inside tests');
      return holder.db;
    },
  };
}
