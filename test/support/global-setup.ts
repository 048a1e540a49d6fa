import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EmbeddedServer } from '../../src/server/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    couchUrl: string;
  }
}

/** One real PouchDB Server for the whole run; each test file makes and drops its own databases. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-test-db-'));
  const server = await EmbeddedServer.start({ dir });
  project.provide('couchUrl', server.url.origin);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
