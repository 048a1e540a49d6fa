import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { Couch } from '../../src/db/couch.js';
import { EmbeddedServer } from '../../src/server/embedded.js';
import { startTestSe } from './xrootd-server.js';
import { couchAt, externalUrl, TEST_DATABASE_PREFIX, URL_ENV } from './test-server.js';

export interface TestServer {
  /** Such as "CouchDB 3.5.0" or "PouchDB Server 4.2.0", for skip reasons. */
  name: string;
  /** PouchDB Server (the embedded one, or one at GASP_TEST_COUCHDB_URL): numeric update_seq, the tally's server. */
  pouchdb: boolean;
  external: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    couchUrl: string;
    couchServer: TestServer;
    /** The run's XRootD storage element, or why there is none. */
    xrootd: { url: string; data: string } | { unavailable: string };
  }
}

const testDatabases = async (couch: Couch) =>
  (await couch.listDatabases()).filter((name) => name.startsWith(TEST_DATABASE_PREFIX));

/**
 * One server for the whole run: the embedded PouchDB Server, or the one at GASP_TEST_COUCHDB_URL.
 * Each test file makes and drops its own databases; at the end, a test database still there is a
 * leak: it is named, dropped, and fails the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = externalUrl();
  const dir = external === undefined ? mkdtempSync(join(tmpdir(), 'gasp-test-db-')) : undefined;
  const server = dir === undefined ? undefined : await EmbeddedServer.start({ dir });
  const url = (external ?? server?.url ?? '').toString().replace(/\/$/, '');
  const couch = couchAt(url);
  const welcome = await couch
    .request<{ version?: string; couchdb?: string; 'express-pouchdb'?: string }>({})
    .catch((error: unknown) => {
      throw new Error(`${URL_ENV}: ${(error as Error).message}`);
    });
  const pouchdb = welcome['express-pouchdb'] !== undefined;
  const name = `${pouchdb ? 'PouchDB Server' : 'CouchDB'} ${welcome.version ?? ''}`.trim();
  if (external !== undefined) process.stderr.write(`tests use ${name} at ${couch.url} (${URL_ENV})\n`);
  const before = new Set(await testDatabases(couch));
  if (before.size > 0)
    process.stderr.write(
      `${before.size} test databases were already on ${couch.url} before this run (left alone): ${[...before].join(', ')}\n`,
    );
  project.provide('couchUrl', url);
  project.provide('couchServer', { name, pouchdb, external: external !== undefined });
  const se = await startTestSe();
  project.provide('xrootd', 'stop' in se ? { url: se.url, data: se.data } : se);
  return async () => {
    try {
      if ('stop' in se) await se.stop();
      const left = (await testDatabases(couch)).filter((db) => !before.has(db));
      if (left.length > 0) {
        process.stderr.write(
          `\ntest databases left behind on ${couch.url} (a test file did not drop what it made; dropped now): ${left.join(', ')}\n`,
        );
        process.exitCode = 1;
        await Promise.all(left.map((db) => couch.use(db).destroy()));
      }
    } finally {
      await server?.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  };
}
