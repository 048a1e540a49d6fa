import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackendUnavailableError, type Backend, type BackendStatus, type PreparedJob } from './backend.js';

export interface DryOptions {
  /** How every job ends; `failed` with `exitCode` 20 reads like a RAT failure. */
  outcome?: 'completed' | 'failed';
  exitCode?: number;
  /**
   * A file to which each submission is appended (one JSON line: name, id, time): the backend's own
   * record, read back by a restarted client, and what the soak test counts submissions from.
   */
  journal?: string;
  /**
   * The fraction of calls that fail as if the batch system did not answer, to rehearse outages.
   * Half the failed submits fail after the job was recorded, like an `sbatch` that timed out after
   * its job was queued: the client must find such a job by name rather than submit it again.
   */
  failCalls?: number;
  random?: () => number;
}

interface JournalLine {
  name: string;
  id: string;
  at: string;
}

/**
 * Runs nothing: records what it was asked and finishes each job at once with the chosen outcome.
 * For tests, the demo, the benchmarks and the soak. Without a journal its memory is the process's.
 */
export class DryBackend implements Backend {
  readonly kind = 'dry';
  readonly runsWrapper = false;
  readonly submitted: PreparedJob[] = [];
  readonly #ended = new Map<string, BackendStatus>();
  readonly #byName = new Map<string, string>();
  readonly #outcome: BackendStatus;
  readonly #journal: string | undefined;
  readonly #failCalls: number;
  readonly #random: () => number;
  #next = 0;

  constructor(options: DryOptions = {}) {
    const outcome = options.outcome ?? 'completed';
    this.#outcome = { state: outcome, exitCode: options.exitCode ?? (outcome === 'completed' ? 0 : 20) };
    this.#journal = options.journal;
    this.#failCalls = options.failCalls ?? 0;
    this.#random = options.random ?? Math.random;
    if (this.#journal !== undefined && existsSync(this.#journal)) {
      for (const line of readFileSync(this.#journal, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const { name, id } = JSON.parse(line) as JournalLine;
        this.#remember(name, id);
        this.#next = Math.max(this.#next, Number(id.replace(/^dry-/, '')) || 0);
      }
    }
  }

  #remember(name: string, id: string): void {
    this.#ended.set(id, this.#outcome);
    this.#byName.set(name, id);
  }

  #maybeFail(call: string): void {
    if (this.#failCalls > 0 && this.#random() < this.#failCalls)
      throw new BackendUnavailableError(`dry backend: ${call} failed on purpose ([dry] fail_calls)`);
  }

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    const failsAfter = this.#failCalls > 0 && this.#random() < 0.5;
    if (!failsAfter) this.#maybeFail('submit');
    const ids = jobs.map((job) => {
      const id = `dry-${++this.#next}`;
      this.#remember(job.name, id);
      return id;
    });
    this.submitted.push(...jobs);
    if (this.#journal !== undefined) {
      mkdirSync(dirname(this.#journal), { recursive: true });
      const at = new Date().toISOString();
      appendFileSync(
        this.#journal,
        jobs
          .map(
            (job, index) =>
              `${JSON.stringify({ name: job.name, id: ids[index], at } satisfies Partial<JournalLine>)}\n`,
          )
          .join(''),
      );
    }
    if (failsAfter) this.#maybeFail('submit (after the job was recorded)');
    return ids;
  }

  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    this.#maybeFail('lookup');
    return new Map(
      names.flatMap((name) => {
        const id = this.#byName.get(name);
        return id === undefined ? [] : [[name, id] as const];
      }),
    );
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    this.#maybeFail('status');
    return new Map(
      ids.map((id) => [id, this.#ended.get(id) ?? { state: 'lost', reason: 'not known to this dry backend' }]),
    );
  }

  async cancel(ids: readonly string[]): Promise<void> {
    for (const id of ids)
      if (this.#ended.has(id)) this.#ended.set(id, { state: 'failed', exitCode: 143, reason: 'canceled' });
  }
}
