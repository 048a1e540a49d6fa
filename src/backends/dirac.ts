import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BatchBackend } from './batch.js';
import {
  BackendError,
  BackendUnavailableError,
  type Backend,
  type BackendStatus,
  type PreparedJob,
} from './backend.js';
import { commandFailure, lastLine, type CommandResult } from './command.js';

/**
 * DIRAC: a JDL per job and dirac-wms-job-submit, one dirac-wms-job-status call for all ids,
 * dirac-wms-job-kill to cancel, dirac-wms-select-jobs to find a job by name after a restart. The
 * client's set-up script ([dirac] setup) is sourced first.
 * DIRAC cannot be installed here: this backend is tested against recorded command output
 * (test/fixtures/recorded/dirac), taken from DIRAC's documentation and source.
 */

/**
 * DIRAC's Jobs.JobGroup column is VARCHAR(32) (JobDB.sql): a job's own name is longer, and DIRAC
 * would refuse the insert (strict MySQL) or cut it, so the job could never be found by it again.
 * The group is a digest of the name instead: 32 characters, one per job, found again from the name.
 */
export function diracJobGroup(name: string): string {
  return `gasp-${createHash('sha256').update(name).digest('hex').slice(0, 27)}`;
}

/**
 * What dirac-wms-job-submit prints when DIRAC turned the job description down rather than not
 * answering: an invalid JDL or sandbox (errno 1501, EWMSJDL), the server's JDL check ("Invalid JDL:"
 * and pydantic's "validation error for …", e.g. CPUTime out of bounds), or a submission the user
 * may not make. Anything else (a connection refused, a timeout, DNS, an expired proxy) is worth
 * another try: retried, a pass waits for DIRAC; failed, a whole outage would fail every claimed pass.
 */
const REFUSED =
  /\( 1501 :|^Invalid JDL:|validation error for|Job submission not authorized|Can't submit using a limited proxy/m;

/** DIRAC's words after `ERROR <file>.jdl: ` (the script prints them last, possibly over several lines), as one line. */
function submitError(stdout: string): string | undefined {
  const at = /^ERROR .*?\.jdl: /m.exec(stdout);
  if (at === null) return undefined;
  const lines = stdout
    .slice(at.index + at[0].length)
    .split('\n')
    .map((line) => line.trim());
  // pydantic's pointer to its web pages says nothing about the job
  return lines.filter((line) => line !== '' && !line.startsWith('For further information visit')).join(' ');
}

/**
 * The ids dirac-wms-select-jobs lists: `==> Selected N jobs with conditions: …` then the ids, comma
 * separated, on the next line; `No jobs were selected with conditions: …` when there are none.
 * Undefined for anything else.
 */
export function parseSelectedJobs(text: string): string[] | undefined {
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^==> Selected \d+ jobs\b/.test(line));
  if (header >= 0)
    return (lines[header + 1] ?? '')
      .split(',')
      .map((id) => id.trim())
      .filter((id) => /^\d+$/.test(id));
  return lines.some((line) => line.startsWith('No jobs were selected with conditions:')) ? [] : undefined;
}

/**
 * How far back lookup searches when the caller does not say when the claim was made. The callers
 * look up claims this site still holds: their job, if any, was submitted after the lease's last
 * renewal, at most one lease (--lease, 900 s by default) before now, and may have ended since, so
 * DIRAC's default (jobs updated today) misses it across midnight. Thirty days covers any lease a
 * site runs with; a wider window costs DIRAC nothing, as the group is one job's and indexed.
 */
const LOOKUP_FALLBACK_DAYS = 30;

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
const commaList = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

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
    const command =
      setup === undefined ? argv : ['bash', '-c', 'source "$1" && shift && exec "$@"', 'gasp-dirac', setup, ...argv];
    return this.run(command, { timeoutMs: 120_000, ...(cwd !== undefined && { cwd }) });
  }

  jdl(job: PreparedJob): string {
    const { cpu_time, platform, sites, banned_sites, group } = this.site.dirac;
    const [executable = '', ...args] = job.command;
    const lines = [
      `JobName = ${jdlString(job.name)};`,
      `JobGroup = ${jdlString(diracJobGroup(job.name))};`,
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
      const said = result.code === 0 ? undefined : submitError(result.stdout);
      if (said !== undefined && REFUSED.test(said))
        throw new BackendError(
          `site ${this.site.name}: DIRAC refused the job: ${said} (check [dirac] in ${this.site.file})`,
        );
      if (said !== undefined)
        throw new BackendUnavailableError(
          `site ${this.site.name}: dirac-wms-job-submit failed (exit ${result.code}): ${said}`,
        );
      if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-job-submit', result);
      if (id === undefined)
        throw new BackendError(
          `site ${this.site.name}: dirac-wms-job-submit answered ${JSON.stringify(lastLine(result.stdout))}, not a job id`,
        );
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
   * DIRAC is asked by job group (a digest of the job's name, set in the JDL), one name per call as
   * its answer does not say which group an id belongs to. `--Date=D` keeps the jobs updated on or
   * after day D (UTC): from the claim's time when the caller gives it (`since`), else
   * LOOKUP_FALLBACK_DAYS back.
   */
  async lookup(names: readonly string[], since?: Date): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    // an hour earlier: DIRAC's clock, not ours, stamps LastUpdateTime, and a claim just after midnight is yesterday's there
    const from = new Date((since?.getTime() ?? Date.now() - LOOKUP_FALLBACK_DAYS * 86_400_000) - 3_600_000);
    const date = `--Date=${from.toISOString().slice(0, 10)}`;
    for (const name of names) {
      const result = await this.#call(['dirac-wms-select-jobs', `--JobGroup=${diracJobGroup(name)}`, date]);
      if (result.code !== 0) throw commandFailure(this.site.name, 'dirac-wms-select-jobs', result);
      // the script's error branch says this, then "No jobs were selected" with exit 0: read as "not found", the job would run twice
      const failed = result.stdout.split('\n').find((line) => line.startsWith("Can't select jobs:"));
      if (failed !== undefined)
        throw new BackendUnavailableError(
          `site ${this.site.name}: dirac-wms-select-jobs: ${failed.replace(/\s+/g, ' ')}`,
        );
      const ids = parseSelectedJobs(result.stdout);
      if (ids === undefined)
        throw new BackendError(
          `site ${this.site.name}: dirac-wms-select-jobs answered ${JSON.stringify(lastLine(result.stdout))}, not a list of jobs`,
        );
      // the first submitted, should there be more than one
      const [first] = ids.map(Number).sort((a, b) => a - b);
      if (first !== undefined) found.set(name, String(first));
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
