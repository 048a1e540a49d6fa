import { GaspError } from '../errors.js';
import { megabytes } from '../memory.js';
import type { BackendKind, StorageTool } from '../sites/site.js';
import type { OutputNaming } from '../model/documents.js';

/** What a job's spec.json tells the wrapper (bin/gasp-job): what to run, where its outputs go. */
export interface JobSpec {
  /** 2: may name an `input` to copy in (the wrapper still reads version 1 specs, which name none). */
  version: 2;
  job: { module: string; run: number; pass: number; subjob: number; label: string };
  rat: { version: string; setup: string };
  /** What the job runs: a macro (rat runs it, filled in), or with `type: 'script'` a bash script (run as is, its values in the environment). */
  macro: { path: string; sha256: string; template: Record<string, string | number>; type?: 'script' };
  rat_args: string[];
  fields: Record<string, string>;
  /**
   * A root:// file the job reads: the wrapper copies it to `file` (in the job's folder, the name
   * rat_args and INPUT give rat) with `tool`, checks its adler32 when `checksum` (`adler32:HEX`)
   * is given, and removes the copy once rat ends.
   */
  input?: JobInput;
  /** Each file the job must make, and who names it: the macro, or rat's command line (already in rat_args). */
  outputs: Array<{ data_type: string; file: string; named_by: OutputNaming }>;
  /** The frozen RATDB state the pass asked for (`submit -t`); null: the live RATDB. The wrapper puts it in the macro. */
  ratdb_tag: string | null;
  storage:
    | { kind: 'file'; root: string; path: string }
    | { kind: 'root'; url: string; tool: StorageTool; path: string }
    | { kind: 'copy'; command: string[]; path: string };
  events: number | null;
}

export interface JobInput {
  url: string;
  file: string;
  checksum?: string;
  tool: StorageTool;
}

/** One job ready for a batch system: where it runs, what it runs, where its logs go. */
export interface PreparedJob {
  /** For the batch system's listings: gasp-<module>-<run>-p<pass>-s<subjob>. */
  name: string;
  /** Absolute: the job's own folder, holding its spec.json and later its outputs and manifest. */
  workdir: string;
  /** The argument array to run in `workdir`: the wrapper and its spec. */
  command: string[];
  stdout: string;
  stderr: string;
  /** What the job runs, as its spec.json says (absent for a job made by hand, as in tests). */
  spec?: JobSpec;
  /** Megabytes to ask for beyond the site's memory: a retry after failures, by the label's policy. */
  extraMemoryMb?: number;
}

/** A site's memory size (`4G`, `4000`, `512M`) with extra megabytes added, in whole megabytes; unchanged without extra. */
export function withExtraMemory(size: string, extraMb: number | undefined): string {
  const mb = megabytes(size);
  // 0 asks Slurm for the whole node: nothing more to add
  if (extraMb === undefined || extraMb <= 0 || mb === undefined || mb === 0) return size;
  return `${Math.ceil(mb + extraMb)}M`;
}

/** Where a job is: a backend never calls an unknown job "running"; it is "lost". */
export type BackendState = 'queued' | 'running' | 'completed' | 'failed' | 'lost';

export interface BackendStatus {
  state: BackendState;
  exitCode?: number;
  /** What the batch system said, for `gasp why`: "CANCELLED", "held", "Stalled"… */
  reason?: string;
}

/**
 * What every backend does, the same way. Submitting gives one id per job, in order; status is one
 * call for many ids; a failure to reach the batch system throws BackendUnavailableError (the
 * client retries), never a job failure.
 */
export interface Backend {
  readonly kind: BackendKind;
  /** Whether its jobs run the wrapper and so leave a manifest and outputs to record (not so for dry). */
  readonly runsWrapper: boolean;
  submit(jobs: readonly PreparedJob[]): Promise<string[]>;
  status(ids: readonly string[]): Promise<Map<string, BackendStatus>>;
  cancel(ids: readonly string[]): Promise<void>;
  /**
   * The ids of jobs submitted under these names, for a client that restarts not knowing whether its
   * last submit reached the batch system. A name it cannot find is absent from the answer.
   * `since`: the earliest any of them can have been submitted (the oldest claim's time), for
   * backends that search by date (DIRAC); without it they search a generous window back from now.
   */
  lookup(names: readonly string[], since?: Date): Promise<Map<string, string>>;
}

/** The batch system could not be reached or answered with an error: worth trying again later. */
export class BackendUnavailableError extends GaspError {
  override readonly code = 'E_BACKEND_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

/** The site cannot work as configured (a command not installed, an answer we cannot read): a person must look. */
export class BackendError extends GaspError {
  override readonly code = 'E_BACKEND';
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}
