import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Couch } from '../src/db/couch.js';
import { AuthError } from '../src/db/errors.js';
import { Secret } from '../src/secret.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { freePort } from '../src/server/ports.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { captureLog } from './support/log.js';

const servers: EmbeddedServer[] = [];
const folders: string[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-serve-'));
  folders.push(dir);
  return dir;
}

async function startServer(log?: ReturnType<typeof captureLog>['log']): Promise<EmbeddedServer> {
  const server = await EmbeddedServer.start({ dir: folder(), ...(log !== undefined && { log }) });
  servers.push(server);
  return server;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `gasp serve` as a user starts it, with its output collected. */
function serve(
  dir: string,
  port: number,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [GASP_BIN, 'serve', '--port', String(port), '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => stdout, exited };
}

function serverPidIn(dir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'gasp-serve.pid'), 'utf8')) as { server?: number }).server;
  } catch {
    return undefined;
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('timed out');
}

describe('gasp serve', () => {
  it('starts on 127.0.0.1 with both databases and the views, and stops cleanly on SIGTERM', async () => {
    const dir = folder();
    const port = await freePort();
    const run = serve(dir, port);
    await until(async () => (run.output().includes('serving') ? true : undefined));
    expect(run.output()).toContain(`serving http://127.0.0.1:${port}`);
    const couch = new Couch({ url: new URL(`http://127.0.0.1:${port}`) });
    for (const name of ['data-production', 'data-processing']) {
      const ddoc = await couch.use(name).get<{ _id: string; views: Record<string, unknown> }>('_design/passes');
      expect(Object.keys(ddoc.views)).toContain('ready_priority');
    }
    const pouchdb = serverPidIn(dir);
    expect(pouchdb).toBeDefined();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('stopped');
    expect(existsSync(join(dir, 'gasp-serve.pid'))).toBe(false);
    expect(isAlive(pouchdb ?? 0)).toBe(false);
    expect(existsSync(join(dir, 'log.txt'))).toBe(true);
  });

  it('leaves nothing running when stopped during start-up', async () => {
    const dir = folder();
    const run = serve(dir, await freePort());
    const pouchdb = await until(async () => serverPidIn(dir));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/stopped/);
    expect(isAlive(pouchdb)).toBe(false);
    expect(existsSync(join(dir, 'gasp-serve.pid'))).toBe(false);
  });

  it('takes over a folder whose gasp serve was killed, stopping the PouchDB Server it left', async () => {
    const dir = folder();
    const first = serve(dir, await freePort());
    await until(async () => (first.output().includes('serving') ? true : undefined));
    const orphan = serverPidIn(dir) ?? 0;
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isAlive(orphan)).toBe(true);
    const second = serve(dir, await freePort());
    await until(async () => (second.output().includes('serving') ? true : undefined));
    expect(isAlive(orphan)).toBe(false);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses a port in use with one line and no stack trace', async () => {
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const result = await runGasp(['serve', '--port', String(port), '--dir', folder()]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `port ${port} on 127.0.0.1 is in use (another gasp serve or a CouchDB?); choose another with --port`,
      );
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('refuses a port that is not a number with exit code 2', async () => {
    const result = await runGasp(['serve', '--port', 'http']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('--port: "http" is not a port (expected a whole number from 0 to 65535)');
  });
});

describe('the embedded server', () => {
  it('comes back with its data after a request that crashes PouchDB Server', async () => {
    const { log, lines } = captureLog();
    const server = await startServer(log);
    const couch = new Couch({ url: server.url, retry: { attempts: 40, baseMs: 100, maxMs: 500 } });
    const db = couch.use('survivor');
    await db.create();
    await db.put({ _id: 'kept' });
    const pid = server.pid;
    // a known PouchDB Server crash (../shared/notes/pouchdb-server.md)
    await fetch(new URL('/survivor/_changes?filter=_selector', server.url)).catch(() => undefined);
    await until(async () => (server.restarts === 1 ? true : undefined));
    expect(server.pid).not.toBe(pid);
    await expect(db.get('kept')).resolves.toMatchObject({ _id: 'kept' });
    expect(lines.map((line) => line.msg)).toEqual([
      expect.stringMatching(/^embedded database exited unexpectedly; starting it again in \d+\.\ds$/),
      'embedded database is answering again',
    ]);
  });

  it('restarts once at a time while its port is taken, and leaves nothing behind when stopped', async () => {
    const { log, lines } = captureLog();
    const server = await startServer(log);
    const first = server.pid ?? 0;
    process.kill(first, 'SIGKILL');
    await until(async () => (server.pid === undefined ? true : undefined));
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(server.port, '127.0.0.1', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await until(async () => (server.restarts === 1 ? true : undefined), 40_000);
    const failures = lines.filter((line) => line.msg.startsWith('embedded database failed to start again')).length;
    expect(failures).toBeGreaterThanOrEqual(1);
    expect(failures).toBeLessThanOrEqual(4);
    const second = server.pid ?? 0;
    await server.stop();
    expect(isAlive(second)).toBe(false);
    await expect(fetch(server.url)).rejects.toThrow();
  }, 60_000);

  it('allows one server per folder', async () => {
    const server = await startServer();
    await expect(EmbeddedServer.start({ dir: server.dir })).rejects.toThrow(
      `${server.dir} is already served by process ${process.pid}`,
    );
  });
});

describe('a server with an admin', () => {
  it('answers a wrong password with AuthError, and no message holds the password', async () => {
    const server = await startServer();
    const anonymous = new Couch({ url: server.url });
    await anonymous.request({ method: 'PUT', path: '_config/admins/boss', body: 'right-pass' });
    const { log, text } = captureLog('debug');
    const wrong = new Couch({ url: server.url, user: 'boss', password: new Secret('wrong-pass'), log });
    const error = await wrong
      .use('secrets')
      .create()
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).statusCode).toBe(401);
    expect(`${(error as Error).message} ${JSON.stringify(error)} ${text()}`).not.toContain('wrong-pass');
    const right = new Couch({ url: server.url, user: 'boss', password: new Secret('right-pass') });
    await expect(right.use('secrets').create()).resolves.toBe(true);
  });
});
