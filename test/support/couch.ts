import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Couch, CouchOptions } from '../../src/db/couch.js';
import type { Database } from '../../src/db/database.js';
import { NotFoundError } from '../../src/db/errors.js';
import { couchAt, PASSWORD_ENV, TEST_DATABASE_PREFIX, testCredentials } from './test-server.js';

export function testCouch(options: Partial<CouchOptions> = {}): Couch {
  return couchAt(inject('couchUrl'), { retry: { attempts: 2, baseMs: 50, maxMs: 200 }, ...options });
}

/** Every name handed out in this test file: drop-databases.ts drops them after its last test. */
const named = new Set<string>();

export function uniqueName(prefix: string): string {
  const name = `${TEST_DATABASE_PREFIX}${prefix}-${randomBytes(4).toString('hex')}`;
  named.add(name);
  return name;
}

/** Drops every database this file named, made by a test or by a gasp command it ran. */
export async function dropTestDatabases(): Promise<void> {
  const couch = testCouch();
  await Promise.all(
    [...named].map(async (name) => {
      await couch
        .use(name)
        .destroy()
        .catch((error: unknown) => {
          if (!(error instanceof NotFoundError)) throw error;
        });
      named.delete(name);
    }),
  );
}

/**
 * The [couchdb] section of a config file naming this database on the test server. Its login, if
 * any, is by `password_env`, so the password is in no file.
 */
export function couchSection(database: string): string {
  const { user } = testCredentials();
  const login = user === undefined ? '' : `user = ${user}\npassword_env = ${PASSWORD_ENV}\n`;
  return `[couchdb]\nurl = ${inject('couchUrl')}\ndatabase = ${database}\n${login}`;
}

/** The same as environment variables, for gasp commands run without a config file. */
export function couchEnv(database?: string): NodeJS.ProcessEnv {
  const { user } = testCredentials();
  return {
    GASP_COUCHDB_URL: inject('couchUrl'),
    ...(database !== undefined && { GASP_COUCHDB_DATABASE: database }),
    ...(user !== undefined && { GASP_COUCHDB_USER: user, GASP_COUCHDB_PASSWORD_ENV: PASSWORD_ENV }),
  };
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
