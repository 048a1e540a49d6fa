import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchBackend } from './batch.js';
import {
  BackendError,
  BackendUnavailableError,
  withExtraMemory,
  type Backend,
  type BackendStatus,
  type PreparedJob,
} from './backend.js';
import { commandFailure } from './command.js';

/**
 * HTCondor: condor_submit -terse with a submit file per job, then condor_q -json for all ids in one
 * call and condor_history -json (one constraint naming them) for those that left the queue;
 * condor_rm to cancel.
 * HTCondor cannot be installed here: this backend is tested against recorded command output
 * (test/fixtures/recorded/condor), taken from HTCondor's documentation and source.
 */

/** JobStatus numbers of a job ClassAd. */
const JOB_STATUS: Readonly<Record<number, BackendStatus['state']>> = {
  1: 'queued',
  2: 'running',
  3: 'failed',
  4: 'completed',
  5: 'queued',
  6: 'running',
  7: 'queued',
};

interface JobAd {
  ClusterId?: number;
  ProcId?: number;
  JobStatus?: number;
  ExitCode?: number;
  ExitBySignal?: boolean;
  ExitSignal?: number;
  HoldReason?: string;
  RemoveReason?: string;
}

const ATTRIBUTES = 'ClusterId,ProcId,JobStatus,ExitCode,ExitBySignal,ExitSignal,HoldReason,RemoveReason';

/**
 * condor_submit's words when it could not reach the schedd (submit.cpp: the schedd's address not
 * found, connect_to_the_schedd failing, a CEDAR:60xx connection error on its error stack): worth
 * another try. Anything else it says is about the submit file or [condor], which a person must fix.
 */
const UNREACHABLE =
  /Can't find address of (local )?schedd|Failed to connect to (local )?queue manager|\bCEDAR:60\d\d:/i;

/** Job ids per condor_history call: keeps its constraint far below Linux's 128 KiB per argument. */
const IDS_PER_HISTORY_CALL = 500;

/**
 * One constraint naming the jobs, for condor_history: before 8.3.6 it refused a second job id
 * ("Cannot provide both -constraint and <cluster>.<proc>"), and -constraint works on every version.
 */
const jobsConstraint = (ids: readonly string[]) =>
  ids
    .map((id) => id.split('.'))
    .map(([cluster = '', proc = '0']) => `(ClusterId == ${Number(cluster)} && ProcId == ${Number(proc)})`)
    .join(' || ');

/** A value for a submit file: new-style arguments quoting, one word each. */
function submitArguments(words: readonly string[]): string {
  return `"${words.map((word) => `'${word.replaceAll("'", "''").replaceAll('"', '""')}'`).join(' ')}"`;
}

export function statusFromAd(ad: JobAd): BackendStatus {
  const state = JOB_STATUS[ad.JobStatus ?? 0];
  if (state === undefined) return { state: 'running', reason: `unknown JobStatus ${ad.JobStatus}` };
  if (ad.JobStatus === 5) return { state: 'queued', reason: `held: ${ad.HoldReason ?? 'no reason given'}` };
  if (ad.JobStatus === 3)
    return {
      state: 'failed',
      exitCode: 143,
      reason:
        ad.RemoveReason?.startsWith('via condor_rm') === true
          ? 'canceled'
          : `removed: ${ad.RemoveReason ?? 'no reason given'}`,
    };
  if (ad.JobStatus === 4) {
    const exitCode = ad.ExitBySignal === true ? 128 + (ad.ExitSignal ?? 0) : (ad.ExitCode ?? 0);
    return exitCode === 0 ? { state: 'completed', exitCode } : { state: 'failed', exitCode };
  }
  return { state };
}

export class CondorBackend extends BatchBackend implements Backend {
  readonly kind = 'condor';

  #submitFile(job: PreparedJob): string {
    const { universe, request_memory, request_disk, requirements, accounting_group } = this.site.condor;
    const [executable = '', ...args] = job.command;
    // a submit file's values run to the end of the line and expand $(…) as submit macros: a path
    // holding either would run or read something else than asked
    for (const path of [executable, job.workdir, job.stdout, job.stderr]) {
      if (/\$\(|[\r\n]/.test(path))
        throw new BackendError(
          `site ${this.site.name}: HTCondor would read "${path}" as a submit macro or a new line (expected a [local] workdir in ${this.site.file} without "$(" or line breaks)`,
        );
    }
    const lines = [
      `universe = ${universe}`,
      `executable = ${executable}`,
      `arguments = ${submitArguments(args)}`,
      `initialdir = ${job.workdir}`,
      `output = ${job.stdout}`,
      `error = ${job.stderr}`,
      `log = ${join(job.workdir, 'condor.log')}`,
      `request_memory = ${withExtraMemory(request_memory, job.extraMemoryMb)}`,
      `request_disk = ${request_disk}`,
      `batch_name = ${job.name}`,
      'getenv = True',
      'should_transfer_files = NO',
    ];
    if (requirements !== undefined) lines.push(`requirements = ${requirements}`);
    if (accounting_group !== undefined) lines.push(`accounting_group = ${accounting_group}`);
    return `${lines.join('\n')}\nqueue 1\n`;
  }

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    const ids: string[] = [];
    for (const job of jobs) {
      const file = join(job.workdir, 'job.sub');
      writeFileSync(file, this.#submitFile(job));
      const result = await this.run(['condor_submit', '-terse', file], { cwd: job.workdir });
      if (result.code !== 0) {
        const failure = commandFailure(this.site.name, 'condor_submit', result, !UNREACHABLE.test(result.stderr));
        throw failure instanceof BackendError
          ? new BackendError(`${failure.message} (check [condor] in ${this.site.file})`)
          : failure;
      }
      const id = /^(\d+\.\d+)\s+-/.exec(result.stdout.trim())?.[1];
      if (id === undefined)
        throw new BackendError(
          `site ${this.site.name}: condor_submit answered ${JSON.stringify(result.stdout.trim())}, not a job id`,
        );
      ids.push(id);
    }
    return ids;
  }

  /** A -json answer as job ads. */
  #parseAds(program: string, stdout: string): JobAd[] {
    const text = stdout.trim();
    if (text === '') return [];
    let ads: unknown;
    try {
      ads = JSON.parse(text);
    } catch {
      // a list cut short was interrupted: ask again; anything else is not -json output at all (an
      // old or wrapped command printing its table), which asking again will not change
      const cut = text.startsWith('[');
      const message = `site ${this.site.name}: ${program} -json answered ${cut ? 'a list cut short' : 'something that is not JSON'}: ${JSON.stringify(text.slice(0, 80))}`;
      throw cut ? new BackendUnavailableError(message) : new BackendError(message);
    }
    if (!Array.isArray(ads))
      throw new BackendError(
        `site ${this.site.name}: ${program} -json answered ${JSON.stringify(text.slice(0, 80))}, not a list of job ads`,
      );
    return ads as JobAd[];
  }

  async #ads(
    program: 'condor_q' | 'condor_history',
    select: readonly string[],
    attributes = ATTRIBUTES,
  ): Promise<JobAd[]> {
    const result = await this.run([program, '-json', '-attributes', attributes, ...select]);
    if (result.code !== 0) throw commandFailure(this.site.name, program, result);
    return this.#parseAds(program, result.stdout);
  }

  async #history(ids: readonly string[]): Promise<JobAd[]> {
    const ads: JobAd[] = [];
    for (let start = 0; start < ids.length; start += IDS_PER_HISTORY_CALL) {
      const chunk = ids.slice(start, start + IDS_PER_HISTORY_CALL);
      // -match stops the (newest first) scan once every job is found, as job ids do in new versions
      ads.push(
        ...(await this.#ads('condor_history', ['-match', String(chunk.length), '-constraint', jobsConstraint(chunk)])),
      );
    }
    return ads;
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    const answers = new Map<string, BackendStatus>();
    if (ids.length === 0) return answers;
    const key = (ad: JobAd) => `${ad.ClusterId ?? ''}.${ad.ProcId ?? ''}`;
    const queued = new Map((await this.#ads('condor_q', ids)).map((ad) => [key(ad), ad]));
    const gone = ids.filter((id) => !queued.has(id));
    const history = new Map((gone.length > 0 ? await this.#history(gone) : []).map((ad) => [key(ad), ad]));
    for (const id of ids) {
      const ad = queued.get(id) ?? history.get(id);
      answers.set(
        id,
        ad === undefined ? { state: 'lost', reason: 'HTCondor no longer knows this job' } : statusFromAd(ad),
      );
    }
    return answers;
  }

  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (names.length === 0) return found;
    const constraint = names.map((name) => `JobBatchName == ${JSON.stringify(name)}`).join(' || ');
    for (const program of ['condor_q', 'condor_history'] as const) {
      const ads = (await this.#ads(program, ['-constraint', constraint], 'ClusterId,ProcId,JobBatchName')) as Array<
        JobAd & { JobBatchName?: string }
      >;
      for (const ad of ads)
        if (ad.JobBatchName !== undefined) found.set(ad.JobBatchName, `${ad.ClusterId ?? ''}.${ad.ProcId ?? ''}`);
    }
    return found;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const result = await this.run(['condor_rm', ...ids]);
    if (result.code !== 0 && !/couldn't find|not found|no jobs/i.test(result.stderr + result.stdout))
      throw commandFailure(this.site.name, 'condor_rm', result);
  }
}
