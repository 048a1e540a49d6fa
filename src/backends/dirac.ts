import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BatchBackend } from './batch.js';
import { BackendError, type Backend, type BackendStatus, type PreparedJob } from './backend.js';
import { commandFailure, lastLine, type CommandResult } from './command.js';

/**
 * DIRAC: a JDL per job and dirac-wms-job-submit, one dirac-wms-job-status call for all ids,
 * dirac-wms-job-kill to cancel. The client's set-up script ([dirac] setup) is sourced first.
 * DIRAC cannot be installed here: this backend is tested against recorded command output
 * (test/fixtures/recorded/dirac), taken from DIRAC's documentation and source.
 */

const MAJOR_STATUS: Readonly<Record<string, BackendStatus['state']>> = {
  Submitting: 'queued',
  Received: 'queued',
  Scouting: 'queued',
  Checking: 'queued',
  Staging: 'queued',
  Waiting: 'queued',
  Matched: 'queued',
  Rescheduled: 'queued',
  Running: 'running',
  Completing: 'running',
  // the application ended and its outputs are being uploaded
  Completed: 'running',
  Stalled: 'running',
  Done: 'completed',
  Failed: 'failed',
  Killed: 'failed',
  Deleted: 'failed',
};

/** A JDL string value, quotes escaped. */
const jdlString = (value: string) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
const jdlList = (values: readonly string[]) => `{${values.map(jdlString).join(', ')}}`;
const commaList = (text: string | undefined) => (text ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');

export function parseDiracStatus(text: string): Map<string, BackendStatus> {
  const answers = new Map<string, BackendStatus>();
  for (const line of text.split('\n')) {
    const id = /JobID=(\d+)/.exec(line)?.[1];
    const status = /\bStatus=([^;]+);/.exec(line)?.[1]?.trim();
    if (id === undefined || status === undefined) continue;
    const minor = /MinorStatus=([^;]*);/.exec(line)?.[1]?.trim();
    const state = MAJOR_STATUS[status];
    if (state === undefined) answers.set(id, { state: 'running', reason: `unknown DIRAC status ${status}` });
    else if (state === 'completed') answers.set(id, { state, exitCode: 0 });
    else if (status === 'Killed' || status === 'Deleted') answers.set(id, { state, exitCode: 143, reason: 'canceled' });
    else if (state === 'failed') answers.set(id, { state, exitCode: 1, reason: minor ?? status });
    else answers.set(id, { state, ...(status === 'Stalled' && { reason: 'Stalled' }) });
  }
  return answers;
}

export class DiracBackend extends BatchBackend implements Backend {
  readonly kind = 'dirac';

  /** Runs a DIRAC command after its set-up script; the arguments reach bash as "$@", never as text. */
  #call(argv: string[], cwd?: string): Promise<CommandResult> {
    const setup = this.site.dirac.setup;
    const command = setup === undefined ? argv : ['bash', '-c', 'source "$1" && shift && exec "$@"', 'gasp-dirac', setup, ...argv];
    return this.run(command, { timeoutMs: 120_000, ...(cwd !== undefined && { cwd }) });
  }

  jdl(job: PreparedJob): string {
    const { cpu_time, platform, sites, banned_sites, group } = this.site.dirac;
    const [executable = '', ...args] = job.command;
    const lines = [
      `JobName = ${jdlString(job.name)};`,
      `JobGroup = ${jdlString(job.name)};`,
      `Executable = ${jdlString(basename(executable))};`,
      `Arguments = ${jdlString(args.join(' '))};`,
      `StdOutput = ${jdlString(basename(job.stdout))};`,
      `StdError = ${jdlString(basename(job.stderr))};`,
      `InputSandbox = ${jdlList([executable, ...args.map((arg) => join(job.workdir, arg))])};`,
      `OutputSandbox = ${jdlList([basename(job.stdout), basename(job.stderr), 'manifest.json'])};`,
      `CPUTime = ${Math.round(cpu_time)};`,
      `OwnerGroup = ${jdlString(group)};`,
    ];
    if (platform !== undefined) lines.push(`Platform = ${jdlString(platform)};`);
    if (commaList(sites).length > 0) lines.push(`Site = ${jdlList(commaList(sites))};`);
    if (commaList(banned_sites).length > 0) lines.push(`BannedSites = ${jdlList(commaList(banned_sites))};`);
    return `${lines.join('\n')}\n`;
  }

  async submit(jobs: readonly PreparedJob[]): Promise<string[]> {
    const ids: string[] = [];
    for (const job of jobs) {
      const file = join(job.workdir, 'job.jdl');
      writeFileSync(file, this.jdl(job));
      const result = await this.#call(['dirac-wms-job-submit', file], job.workdir);
      const id = /JobID\s*=\s*(\d+)/.exec(result.stdout)?.[1];
      if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-job-submit', result);
      if (id === undefined) throw new BackendError(`site ${this.site.name}: dirac-wms-job-submit answered ${JSON.stringify(lastLine(result.stdout))}, not a job id`);
      ids.push(id);
    }
    return ids;
  }

  async status(ids: readonly string[]): Promise<Map<string, BackendStatus>> {
    if (ids.length === 0) return new Map();
    const result = await this.#call(['dirac-wms-job-status', ...ids]);
    const known = parseDiracStatus(result.stdout);
    // an unknown id gets no line at all (exit 0): it is lost
    if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-job-status', result);
    return new Map(ids.map((id) => [id, known.get(id) ?? { state: 'lost', reason: 'DIRAC does not know this job' }]));
  }

  /**
   * DIRAC is asked by job group (the job's name, set in the JDL): dirac-wms-select-jobs lists the ids.
   * Not confirmed against a live DIRAC; see test/fixtures/recorded/README.md.
   */
  async lookup(names: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const name of names) {
      const result = await this.#call(['dirac-wms-select-jobs', `--JobGroup=${name}`]);
      if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-select-jobs', result);
      const id = /(\d+)/.exec(result.stdout.split('\n').find((line) => /\d/.test(line)) ?? '')?.[1];
      if (id !== undefined) found.set(name, id);
    }
    return found;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const result = await this.#call(['dirac-wms-job-kill', ...ids]);
    // DIRAC drops unknown ids without a word ("Killed jobs "), which is what we want
    if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-job-kill', result);
  }
}
