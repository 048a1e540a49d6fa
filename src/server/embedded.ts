import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { backoffDelay, sleep, type RetryPolicy } from '../db/backoff.js';
import { UnavailableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { freePort, isPortFree } from './ports.js';

export interface EmbeddedServerOptions {
  /** Folder for the databases, PouchDB Server's config.json and log.txt. */
  dir: string;
  /** 0 or absent: any free port. */
  port?: number;
  log?: Logger;
  /** How long to wait for the first answer. */
  startTimeoutMs?: number;
}

const RESTART_BACKOFF: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, maxMs: 30_000 };
const HOST = '127.0.0.1';

function pouchdbServerBin(): string {
  return createRequire(import.meta.url).resolve('pouchdb-server/bin/pouchdb-server');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PouchDB Server, speaking CouchDB's HTTP API, as a supervised child process bound to 127.0.0.1.
 * Some requests crash PouchDB Server (see ../shared/notes/pouchdb-server.md), so when it exits
 * without being asked to, it is started again on the same port and folder.
 */
export class EmbeddedServer {
  readonly dir: string;
  readonly port: number;
  readonly url: URL;
  /** How many times the server was started again after exiting on its own. */
  restarts = 0;
  readonly #log: Logger;
  readonly #startTimeoutMs: number;
  readonly #pidFile: string;
  #child: ChildProcess | undefined;
  #stderrTail: string[] = [];
  #stopping = false;
  #crashesInARow = 0;

  private constructor(dir: string, port: number, options: EmbeddedServerOptions) {
    this.dir = dir;
    this.port = port;
    this.url = new URL(`http://${HOST}:${port}`);
    this.#log = (options.log ?? silentLogger).child({ component: 'serve' });
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#pidFile = join(dir, 'gasp-serve.pid');
  }

  static async start(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort(HOST);
    if (!(await isPortFree(port, HOST))) {
      throw new UnavailableError(`port ${port} on ${HOST} is in use (another gasp serve or a CouchDB?); choose another with --port`);
    }
    const server = new EmbeddedServer(dir, port, options);
    server.#claimFolder();
    try {
      await server.#launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** One server per folder: LevelDB allows one process, and two would fight over it. */
  #claimFolder(): void {
    try {
      const pid = Number(readFileSync(this.#pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new UnavailableError(`${this.dir} is already served by process ${pid}; stop it first or choose another --dir`);
      }
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
    }
    writeFileSync(this.#pidFile, `${process.pid}\n`);
  }

  async #launch(): Promise<void> {
    const args = [pouchdbServerBin(), '--no-stdout-logs', '--host', HOST, '--port', String(this.port), '--dir', this.dir];
    args.push('--config', join(this.dir, 'config.json'));
    // its log.txt goes to the current directory, so that is the data folder
    const child = spawn(process.execPath, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#stderrTail = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderrTail.push(...chunk.split('\n').filter((line) => line.trim() !== ''));
      this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - 20));
    });
    child.once('exit', (code, signal) => this.#exited(child, code, signal));
    await this.#waitUntilAnswering(child);
  }

  async #waitUntilAnswering(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        // node ends a crash report with its version line; the error line says more
        const why = this.#stderrTail.find((line) => /error/i.test(line)) ?? this.#stderrTail.at(-1) ?? `exit code ${child.exitCode ?? child.signalCode}`;
        throw new UnavailableError(`the embedded database did not start: ${why}`);
      }
      try {
        const answer = await fetch(this.url, { signal: AbortSignal.timeout(1_000) });
        const body = (await answer.json()) as Record<string, unknown>;
        if ('express-pouchdb' in body) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new UnavailableError(`the embedded database did not answer on ${this.url.origin} within ${this.#startTimeoutMs / 1000}s`);
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopping || child !== this.#child) return;
    this.#child = undefined;
    this.#crashesInARow += 1;
    const delay = backoffDelay(RESTART_BACKOFF, this.#crashesInARow);
    this.#log.warn(
      { code, signal, stderr: this.#stderrTail.slice(-3) },
      `embedded database exited unexpectedly; starting it again in ${(delay / 1000).toFixed(1)}s`,
    );
    void this.#restartAfter(delay);
  }

  async #restartAfter(delay: number): Promise<void> {
    await sleep(delay);
    if (this.#stopping) return;
    try {
      await this.#launch();
      this.restarts += 1;
      this.#crashesInARow = 0;
      this.#log.info({ url: this.url.origin }, 'embedded database is answering again');
    } catch (error) {
      if (this.#stopping) return;
      this.#child?.kill('SIGKILL');
      this.#child = undefined;
      this.#crashesInARow += 1;
      const next = backoffDelay(RESTART_BACKOFF, this.#crashesInARow);
      this.#log.warn({ error: (error as Error).message }, `embedded database failed to start again; next try in ${(next / 1000).toFixed(1)}s`);
      void this.#restartAfter(next);
    }
  }

  /** Stops the server: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#pidFile, { force: true });
  }

  /** The child's process id, for tests that crash it on purpose. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
}
