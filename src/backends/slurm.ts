import { BatchBackend } from './batch.js';
import {
  BackendError,
  BackendUnavailableError,
  withExtraMemory,
  type Backend,
  type BackendState,
  type BackendStatus,
  type PreparedJob,
} from './backend.js';
import { commandFailure, type CommandResult } from './command.js';

const STATES: Readonly<Record<string, BackendState>> = {
  PENDING: 'queued',
  CONFIGURING: 'queued',
  REQUEUED: 'queued',
  REQUEUE_HOLD: 'queued',
  REQUEUE_FED: 'queued',
  RESIZING: 'queued',
  SUSPENDED: 'queued',
  RUNNING: 'running',
  COMPLETING: 'running',
  STAGE_OUT: 'running',
  SIGNALING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'failed',
  TIMEOUT: 'failed',
  OUT_OF_MEMORY: 'failed',
  NODE_FAIL: 'failed',
  PREEMPTED: 'failed',
  BOOT_FAIL: 'failed',
  DEADLINE: 'failed',
};

/** `2:0` → 2; `0:9` (killed by signal 9) → 137, as a shell would say it. */
export function slurmExitCode(text: string): number | undefined {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (match === null) return undefined;
  const [code, signal] = [Number(match[1]), Number(match[2])];
  return signal > 0 && code === 0 ? 128 + signal : code;
}

function statusOf(state: string, exit?: string): BackendStatus {
  const word = state.split(/\s+/)[0] ?? '';
  const mapped = STATES[word];
  const exitCode = exit === undefined ? undefined : slurmExitCode(exit);
  if (mapped === undefined) return { state: 'running', reason: `unknown Slurm state ${state}` };
  if (mapped === 'completed' && exitCode !== undefined && exitCode !== 0)
    return { state: 'failed', exitCode, reason: word };
  return {
    state: mapped,
    ...(exitCode !== undefined &&
      (mapped === 'completed' || mapped === 'failed') && {
        exitCode: mapped === 'failed' && exitCode === 0 ? 1 : exitCode,
      }),
    ...(mapped === 'failed' && { reason: word === 'CANCELLED' ? 'canceled' : word }),
  };
}

/**
 * Slurm: `sbatch --parsable` per job (an argument array), one `squeue` call for all ids, then
 * `sacct` for those that left the queue, then `scontrol show job` where accounting is off.
 */
export class SlurmBackend extends BatchBackend implements Backend {
  readonly kind = 'slurm';

  async #call(argv: string[]): Promise<CommandResult> {
    return this.run(argv, { timeoutMs: 60_000 });
  }

  /** A controller that does not answer is worth another try; a refused job (bad partition, too much memory) is not. */
  #unavailable(program: string, result: CommandResult): BackendUnavailableError | BackendError {
    const transient =
      /unable to contact|socket timed out|temporarily unable|connection refused|try again|slurm_load_jobs error: (?!Invalid)/i;
    const refused = program === 'sbatch' && !transient.test(result.stderr);
    const failure = commandFailure(this.site.name, program, result, refused);
    return refused ? new BackendError(`${failure.message} (check [slurm] in ${this.site.file})`) : failure;
  }

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    const { partition, account, qos, time, mem } = this.site.slurm;
    const ids: string[] = [];
    for (const job of jobs) {
      const argv = [
        'sbatch',
        '--parsable',
        `--job-name=${job.name}`,
        `--chdir=${job.workdir}`,
        `--output=${job.stdout}`,
        `--error=${job.stderr}`,
        `--time=${time}`,
        `--mem=${withExtraMemory(mem, job.extraMemoryMb)}`,
      ];
      if (partition !== undefined) argv.push(`--partition=${partition}`);
      if (account !== undefined) argv.push(`--account=${account}`);
      if (qos !== undefined) argv.push(`--qos=${qos}`);
      const result = await this.#call([...argv, ...job.command]);
      if (result.code !== 0) throw this.#unavailable('sbatch', result);
      const id = /^(\d+)/.exec(result.stdout.trim())?.[1];
      if (id === undefined)
        throw new BackendError(
          `site ${this.site.name}: sbatch answered ${JSON.stringify(result.stdout.trim())}, not a job id`,
        );
      ids.push(id);
    }
    return ids;
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    const answers = new Map<string, BackendStatus>();
    if (ids.length === 0) return answers;
    const queue = await this.#call(['squeue', '-h', '-o', '%i %T', '-j', ids.join(',')]);
    if (queue.code !== 0 && !/Invalid job id/i.test(queue.stderr)) throw this.#unavailable('squeue', queue);
    for (const line of queue.stdout.split('\n')) {
      const [id, state] = line.trim().split(/\s+/);
      if (id !== undefined && state !== undefined && ids.includes(id)) answers.set(id, statusOf(state));
    }
    const gone = ids.filter((id) => !answers.has(id));
    if (gone.length === 0) return answers;
    const accounting = await this.#call([
      'sacct',
      '-n',
      '-P',
      '-X',
      '-S',
      'now-30days',
      '-o',
      'JobID,State,ExitCode',
      '-j',
      gone.join(','),
    ]);
    if (accounting.code === 0) {
      for (const line of accounting.stdout.split('\n')) {
        const [id, state, exit] = line.trim().split('|');
        if (id !== undefined && state !== undefined && gone.includes(id)) answers.set(id, statusOf(state, exit));
      }
    } else if (!/accounting storage is disabled/i.test(accounting.stderr)) {
      throw this.#unavailable('sacct', accounting);
    }
    for (const id of gone.filter((candidate) => !answers.has(candidate))) {
      const shown = await this.#call(['scontrol', 'show', 'job', id]);
      const state = /JobState=(\S+)/.exec(shown.stdout)?.[1];
      const exit = /\bExitCode=(\S+)/.exec(shown.stdout)?.[1];
      if (shown.code === 0 && state !== undefined) answers.set(id, statusOf(state, exit));
      else if (shown.code !== 0 && !/Invalid job id/i.test(shown.stderr)) throw this.#unavailable('scontrol', shown);
      else answers.set(id, { state: 'lost', reason: 'Slurm no longer knows this job' });
    }
    return answers;
  }

  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (names.length === 0) return found;
    const queue = await this.#call(['squeue', '-h', '-o', '%i %j', `--name=${names.join(',')}`]);
    if (queue.code !== 0) throw this.#unavailable('squeue', queue);
    // sacct's default window is today only: a job that ended before midnight is still ours
    const accounting = await this.#call([
      'sacct',
      '-n',
      '-P',
      '-X',
      '-S',
      'now-7days',
      '-o',
      'JobID,JobName',
      `--name=${names.join(',')}`,
    ]);
    const lines = [
      ...queue.stdout.split('\n').map((line) => line.trim().split(/\s+/)),
      ...(accounting.code === 0 ? accounting.stdout.split('\n').map((line) => line.trim().split('|')) : []),
    ];
    for (const [id, name] of lines)
      if (id !== undefined && name !== undefined && names.includes(name)) found.set(name, id);
    return found;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const result = await this.#call(['scancel', ...ids]);
    if (result.code !== 0 && !/Invalid job id/i.test(result.stderr)) throw this.#unavailable('scancel', result);
  }
}
