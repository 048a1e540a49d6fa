import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { BenchServer, PASSWORD_ENV, USER_ENV } from '../bench/server.js';
import { testCouch } from './support/couch.js';
import {
  externalUrl,
  PASSWORD_ENV as TEST_PASSWORD_ENV,
  testCredentials,
  USER_ENV as TEST_USER_ENV,
} from './support/test-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function bench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('npm run bench --url', () => {
  it('drops every database it made on the server it measured', async () => {
    const work = mkdtempSync(join(tmpdir(), 'gasp-bench-test-'));
    const { user, password } = testCredentials();
    const env = {
      ...(user !== undefined && { [USER_ENV]: user }),
      ...(password !== undefined && { [PASSWORD_ENV]: password.reveal() }),
    };
    const server = await BenchServer.open(new URL(inject('couchUrl')), work, env);
    try {
      expect(server.name).toBe(inject('couchServer').name);
      const db = await server.fresh('dropped', 3);
      expect((await db.info()).doc_count).toBeGreaterThan(3);
      expect(db.name).toMatch(/^bench-[0-9a-f]{6}-dropped$/);
      await server.close();
      expect(await testCouch().listDatabases()).not.toContain(db.name);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('refuses a URL with a password in it with exit 2, without showing it', async () => {
    const result = await bench(['--url', 'http://admin:Sekr1t-pw@127.0.0.1:1', '--quick']);
    expect(result.code).toBe(2);
    expect(result.output.trim()).toBe(
      '--url: has a user or password in it (expected them in $GASP_BENCH_COUCHDB_USER and $GASP_BENCH_COUCHDB_PASSWORD)',
    );
  });
});

describe('the test server', () => {
  it('is the embedded one without GASP_TEST_COUCHDB_URL, logs in only to an external one, and refuses a URL holding the login', () => {
    expect(externalUrl({})).toBeUndefined();
    expect(testCredentials({ [TEST_USER_ENV]: 'admin', [TEST_PASSWORD_ENV]: 'pw' })).toEqual({});
    const login = testCredentials({
      GASP_TEST_COUCHDB_URL: 'http://127.0.0.1:5984',
      [TEST_USER_ENV]: 'admin',
      [TEST_PASSWORD_ENV]: 'pw',
    });
    expect(login.user).toBe('admin');
    expect(login.password?.reveal()).toBe('pw');
    expect(() => externalUrl({ GASP_TEST_COUCHDB_URL: 'http://admin:pw@127.0.0.1:5984' })).toThrow(
      'GASP_TEST_COUCHDB_URL: has a user or password in it (expected them in GASP_TEST_COUCHDB_USER and GASP_TEST_COUCHDB_PASSWORD)',
    );
  });
});
