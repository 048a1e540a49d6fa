import type { Backend, BackendStatus, PreparedJob } from './backend.js';

export interface DryOptions {
  /** How every job ends; `failed` with `exitCode` 20 reads like a RAT failure. */
  outcome?: 'completed' | 'failed';
  exitCode?: number;
}

/**
 * Runs nothing: records what it was asked and finishes each job at once with the chosen outcome.
 * For tests, the demo and the benchmarks. Its memory is the process's: a new one knows no ids.
 */
export class DryBackend implements Backend {
  readonly kind = 'dry';
  readonly runsWrapper = false;
  readonly submitted: PreparedJob[] = [];
  readonly #ended = new Map<string, BackendStatus>();
  readonly #outcome: BackendStatus;
  #next = 0;

  constructor(options: DryOptions = {}) {
    const outcome = options.outcome ?? 'completed';
    this.#outcome = { state: outcome, exitCode: options.exitCode ?? (outcome === 'completed' ? 0 : 20) };
  }

  readonly #byName = new Map<string, string>();

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    this.submitted.push(...jobs);
    return jobs.map((job) => {
      const id = `dry-${++this.#next}`;
      this.#ended.set(id, this.#outcome);
      this.#byName.set(job.name, id);
      return id;
    });
  }

  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    return new Map(names.flatMap((name) => {
      const id = this.#byName.get(name);
      return id === undefined ? [] : [[name, id] as const];
    }));
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    return new Map(ids.map((id) => [id, this.#ended.get(id) ?? { state: 'lost', reason: 'not known to this dry backend' }]));
  }

  async cancel(ids: readonly string[]): Promise<void> {
    for (const id of ids) if (this.#ended.has(id)) this.#ended.set(id, { state: 'failed', exitCode: 143, reason: 'canceled' });
  }
}
