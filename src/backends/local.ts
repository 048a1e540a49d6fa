import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../files.js';
import { commandLineOf, isAlive } from '../processes.js';
import {
  BackendError,
  BackendUnavailableError,
  type Backend,
  type BackendStatus,
  type PreparedJob,
} from './backend.js';

interface LocalRecord {
  pid: number;
  name: string;
  workdir: string;
  started: string;
}

/**
 * The exit code goes to a file, so a client that restarts still learns how a job ended. Values
 * reach sh as arguments ("$@"), never as text.
 */
const LAUNCHER =
  'exitfile=$1; shift; "$@"; code=$?; echo $code > "$exitfile.tmp" && mv "$exitfile.tmp" "$exitfile"; exit $code';

/** Whether `pid` is still our launcher: alive, and (where /proc tells) running with our exit file. */
function isOurs(pid: number, exitFile: string): boolean {
  return isAlive(pid) && (commandLineOf(pid)?.includes(exitFile) ?? true);
}

/**
 * Jobs as detached processes on this machine. They survive a client restart: a state folder keeps
 * each job's pid and, when it ends, its exit code, so a new client finds them again. At most
 * `maxJobs` run at once.
 */
export class LocalBackend implements Backend {
  readonly kind = 'local';
  readonly runsWrapper = true;
  readonly #stateDir: string;
  readonly #maxJobs: number;

  constructor(options: { stateDir: string; maxJobs: number }) {
    this.#stateDir = resolve(options.stateDir);
    this.#maxJobs = options.maxJobs;
    mkdirSync(this.#stateDir, { recursive: true });
  }

  /** A job's record; undefined when it is missing or unreadable (a crash mid-write). */
  #record(id: string): LocalRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.#path(id, 'json'), 'utf8')) as LocalRecord;
    } catch {
      return undefined;
    }
  }

  #path(id: string, ending: string): string {
    if (!/^local-[\w-]+$/.test(id)) throw new BackendError(`${id} is not a local job id`);
    return join(this.#stateDir, `${id}.${ending}`);
  }

  /** Jobs started here that have not ended. */
  running(): number {
    return readdirSync(this.#stateDir).filter((name) => {
      if (!name.endsWith('.json')) return false;
      const id = name.slice(0, -'.json'.length);
      if (existsSync(join(this.#stateDir, `${id}.exit`))) return false;
      const record = this.#record(id);
      return record !== undefined && isOurs(record.pid, join(this.#stateDir, `${id}.exit`));
    }).length;
  }

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    const free = this.#maxJobs - this.running();
    if (jobs.length > free)
      throw new BackendUnavailableError(
        `local backend: ${jobs.length} jobs asked, room for ${Math.max(0, free)} (max_jobs ${this.#maxJobs}); trying again next cycle`,
      );
    return jobs.map((job) => {
      const id = `local-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const out = openSync(job.stdout, 'a');
      const err = openSync(job.stderr, 'a');
      try {
        const child = spawn('sh', ['-c', LAUNCHER, 'gasp-local', this.#path(id, 'exit'), ...job.command], {
          cwd: job.workdir,
          detached: true,
          stdio: ['ignore', out, err],
        });
        if (child.pid === undefined)
          throw new BackendError(`local backend: could not start ${job.command[0] ?? 'the job'}`);
        child.unref();
        const record: LocalRecord = {
          pid: child.pid,
          name: job.name,
          workdir: job.workdir,
          started: new Date().toISOString(),
        };
        writeFileAtomic(this.#path(id, 'json'), JSON.stringify(record));
      } finally {
        closeSync(out);
        closeSync(err);
      }
      return id;
    });
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    const answers = new Map<string, BackendStatus>();
    for (const id of ids) answers.set(id, this.#statusOf(id));
    return answers;
  }

  #statusOf(id: string): BackendStatus {
    if (!/^local-[\w-]+$/.test(id) || !existsSync(this.#path(id, 'json')))
      return { state: 'lost', reason: 'no such local job' };
    if (existsSync(this.#path(id, 'canceled'))) return { state: 'failed', exitCode: 143, reason: 'canceled' };
    if (existsSync(this.#path(id, 'exit'))) {
      const exitCode = Number(readFileSync(this.#path(id, 'exit'), 'utf8').trim());
      return exitCode === 0 ? { state: 'completed', exitCode } : { state: 'failed', exitCode };
    }
    const record = this.#record(id);
    return record !== undefined && isOurs(record.pid, this.#path(id, 'exit'))
      ? { state: 'running' }
      : { state: 'lost', reason: 'its process is gone without an exit code' };
  }

  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    const wanted = new Set(names);
    const found = new Map<string, string>();
    for (const file of readdirSync(this.#stateDir).filter((name) => name.endsWith('.json'))) {
      const id = file.slice(0, -'.json'.length);
      const record = this.#record(id);
      if (record !== undefined && wanted.has(record.name)) found.set(record.name, id);
    }
    return found;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const record = this.#record(id);
      if (record === undefined || existsSync(this.#path(id, 'exit'))) continue;
      writeFileSync(this.#path(id, 'canceled'), new Date().toISOString());
      try {
        // the launcher leads its own process group (detached), so this stops the wrapper and rat too
        process.kill(-record.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
