import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { backoffDelay, sleep, type RetryPolicy } from '../db/backoff.js';
import { UnavailableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { commandLineOf, isAlive } from '../processes.js';
import { freePort, isPortFree, portInUse } from './ports.js';

export interface EmbeddedServerOptions {
  /** Folder for the databases, PouchDB Server's config.json and log.txt. */
  dir: string;
  /** 0 or absent: any free port. */
  port?: number;
  log?: Logger;
  /** How long to wait for the first answer. */
  startTimeoutMs?: number;
  /** Aborting it during start-up stops the half-started server. */
  signal?: AbortSignal;
}

/** Raised when start-up was aborted (a signal): nothing is left running. */
export class StartAborted extends UnavailableError {}

const RESTART_BACKOFF: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, maxMs: 30_000 };
const HOST = '127.0.0.1';
const PID_FILE = 'gasp-serve.pid';

interface PidRecord {
  supervisor?: number;
  server?: number;
}

function pouchdbServerBin(): string {
  return createRequire(import.meta.url).resolve('pouchdb-server/bin/pouchdb-server');
}

/** Whether `pid` is a PouchDB Server on `dir` (Linux /proc; elsewhere we never claim it is). */
function isServerFor(pid: number, dir: string): boolean {
  const command = commandLineOf(pid);
  return command !== undefined && command.some((word) => word.includes('pouchdb-server')) && command.includes(dir);
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

/** The line of a crash report that says what went wrong (node ends one with its version line). */
function errorLine(lines: readonly string[]): string | undefined {
  return (
    lines.find((line) => /^\s*\w*Error\b.*:/.test(line)) ?? lines.find((line) => /error/i.test(line)) ?? lines.at(-1)
  );
}

/**
 * PouchDB Server, speaking CouchDB's HTTP API, as a supervised child process bound to 127.0.0.1.
 * Some requests crash PouchDB Server (see ../shared/notes/pouchdb-server.md), so when it exits
 * without being asked to, it is started again on the same port and folder: one restart at a time,
 * with backoff, and only our own child counts as answering.
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
  #claimed = false;
  #child: ChildProcess | undefined;
  #stderrTail: string[] = [];
  #launching = false;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #crashesInARow = 0;

  private constructor(dir: string, port: number, options: EmbeddedServerOptions) {
    this.dir = dir;
    this.port = port;
    this.url = new URL(`http://${HOST}:${port}`);
    this.#log = (options.log ?? silentLogger).child({ component: 'serve' });
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#pidFile = join(dir, PID_FILE);
  }

  static async start(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort(HOST);
    const server = new EmbeddedServer(dir, port, options);
    await server.#claimFolder();
    try {
      if (!(await isPortFree(port, HOST))) {
        throw portInUse(port, HOST, 'another gasp serve or a CouchDB?');
      }
      await server.#launch(options.signal);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /**
   * One server per folder: LevelDB allows one process, and two would fight over it. The pid file
   * is created exclusively; a stale one (its supervisor gone) is replaced, and a PouchDB Server its
   * supervisor left behind is stopped first.
   */
  async #claimFolder(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(this.#pidFile, JSON.stringify({ supervisor: process.pid }), { flag: 'wx' });
        this.#claimed = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let record: PidRecord = {};
      try {
        record = JSON.parse(readFileSync(this.#pidFile, 'utf8')) as PidRecord;
      } catch {
        // unreadable or half-written: treat as stale
      }
      if (isAlive(record.supervisor)) {
        throw new UnavailableError(
          `${this.dir} is already served by process ${record.supervisor}; stop it first or choose another --dir`,
        );
      }
      if (isAlive(record.server) && isServerFor(record.server, this.dir)) {
        this.#log.warn({ pid: record.server }, 'stopping a PouchDB Server left behind on this folder');
        process.kill(record.server, 'SIGTERM');
        for (let waited = 0; waited < 50 && isAlive(record.server); waited++) await sleep(100);
        if (isAlive(record.server)) process.kill(record.server, 'SIGKILL');
      }
      rmSync(this.#pidFile, { force: true });
    }
    throw new UnavailableError(`${this.#pidFile}: cannot be claimed; remove it if no gasp serve runs on ${this.dir}`);
  }

  async #launch(signal?: AbortSignal): Promise<void> {
    const args = [
      pouchdbServerBin(),
      '--no-stdout-logs',
      '--host',
      HOST,
      '--port',
      String(this.port),
      '--dir',
      this.dir,
    ];
    args.push('--config', join(this.dir, 'config.json'));
    // its log.txt goes to the current directory, so that is the data folder
    const child = spawn(process.execPath, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#launching = true;
    this.#stderrTail = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderrTail.push(...chunk.split('\n').filter((line) => line.trim() !== ''));
      this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - 40));
    });
    child.once('exit', (code, exitSignal) => this.#exited(child, code, exitSignal));
    writeFileSync(this.#pidFile, JSON.stringify({ supervisor: process.pid, server: child.pid }));
    try {
      await this.#waitUntilAnswering(child, signal);
    } finally {
      this.#launching = false;
    }
  }

  async #waitUntilAnswering(child: ChildProcess, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new StartAborted('stopped before the embedded database was ready');
      if (exited()) {
        throw new UnavailableError(
          `the embedded database did not start: ${errorLine(this.#stderrTail) ?? `exit code ${child.exitCode ?? child.signalCode}`}`,
        );
      }
      try {
        const answer = await fetch(this.url, { signal: AbortSignal.timeout(1_000) });
        const body = (await answer.json()) as Record<string, unknown>;
        // only our own child counts: another process on the port must not pass for it
        if ('express-pouchdb' in body && !exited()) return;
      } catch {
        // not listening yet
      }
      await sleep(100, signal);
    }
    throw new UnavailableError(
      `the embedded database did not answer on ${this.url.origin} within ${this.#startTimeoutMs / 1000}s`,
    );
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // while launching, the launch itself sees the exit and reports it
    if (this.#stopping || this.#launching || child !== this.#child) return;
    this.#child = undefined;
    this.#log.warn(
      { code, signal, stderr: this.#stderrTail.slice(-3) },
      `embedded database exited unexpectedly; ${this.#scheduleRestart()}`,
    );
  }

  /** Schedules the one pending restart; says when, for the log line. */
  #scheduleRestart(): string {
    this.#crashesInARow += 1;
    const delay = backoffDelay(RESTART_BACKOFF, this.#crashesInARow);
    if (this.#restartTimer === undefined) {
      this.#restartTimer = setTimeout(() => void this.#restart(), delay);
    }
    return `starting it again in ${(delay / 1000).toFixed(1)}s`;
  }

  async #restart(): Promise<void> {
    this.#restartTimer = undefined;
    if (this.#stopping) return;
    try {
      if (!(await isPortFree(this.port, HOST)))
        throw new UnavailableError(`port ${this.port} is taken by another process`);
      await this.#launch();
      this.restarts += 1;
      this.#crashesInARow = 0;
      this.#log.info({ url: this.url.origin }, 'embedded database is answering again');
    } catch (error) {
      const child = this.#child;
      this.#child = undefined;
      if (child !== undefined) await this.#kill(child);
      if (this.#stopping) return;
      this.#log.warn(
        { error: (error as Error).message },
        `embedded database failed to start again; ${this.#scheduleRestart()}`,
      );
    }
  }

  async #kill(child: ChildProcess, graceMs = 5_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = exitOf(child);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server: SIGTERM, then SIGKILL after `graceMs`; no restart follows. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined) await this.#kill(child, graceMs);
    if (this.#claimed) rmSync(this.#pidFile, { force: true });
  }

  /** For a second Ctrl-C: kill at once, without waiting. */
  killNow(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#child?.kill('SIGKILL');
    if (this.#claimed) rmSync(this.#pidFile, { force: true });
  }

  /** The child's process id, for tests that crash it on purpose. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
}
