import type { EventMode } from './event-mode.js';
import { malformedLabel, type Label } from './label.js';
import { PASS_STATUSES, type PassStatus } from './status.js';
import type { TemplateValues } from './template.js';

/**
 * Document shapes in both databases. Field names are snake_case because they are CouchDB's and the
 * views' (views/), which other tools read too. Every document says what it is in `type`.
 */

/** Who names an output file: the macro, rat's command line (`-o`), or nothing gasp can tell. */
export type OutputNaming = 'macro' | 'command line' | 'none';

export interface Subjob {
  /** Subrun or subfile index; 0 where the module works on the whole run. */
  index: number;
  state?: 'submitted' | 'queued' | 'running' | 'completed' | 'failed' | 'lost';
  /** For a run_number pass split by ev_per_run: this subjob's events. */
  events?: number;
  /** For a processing pass: the file it reads (a raw file's name, path or file:// / root:// URL, or a production output's). */
  file?: string;
  /** That file's checksum (`adler32:…`) when it is known: the job wrapper checks a copy it fetches against it. */
  checksum?: string;
  backend_id?: string;
  exit_code?: number;
  /** When the client submitted it, and when it saw it end. */
  started?: string;
  finished?: string;
  /** What the job wrapper says of its run (manifest.json): where, when, with which wrapper and RATDB tag. */
  ran?: { host: string; started: string; finished: string; wrapper_version: string; ratdb_tag?: string };
}

export interface Attempt {
  site: string;
  status: PassStatus | 'lost';
  started: string;
  finished?: string;
  token?: string;
  reason?: string;
  /** The first failing job's exit code (0 when all completed), once the attempt ended in the backend. */
  exit_code?: number;
}

/** How much a pass simulates: events (number, run_number), live time (time), or repeats of a run (run). */
export interface PassAmount {
  events?: number;
  seconds?: number;
  repeats?: number;
}

/** A prerequisite of a processing pass: a specific pass of another module on the same run. */
export interface PassRef {
  module: string;
  run: number;
  pass: number;
}

/** A waiting pass as the ready views show it: what the queue decides on. */
export interface ReadyPass {
  module: string;
  run: number;
  pass: number;
  rat_version: string;
  label: Label;
  priority: number;
  /** ISO time it was requested. */
  created: string;
  prerequisites?: PassRef[];
}

export interface Pass {
  pass: number;
  status: PassStatus;
  rat_version: string;
  /** One label; GASP's older documents may list several (model/label.ts). */
  label: Label;
  priority: number;
  /** ISO time the pass was requested: the serial queue order. */
  created: string;
  event_mode?: EventMode;
  amount?: PassAmount;
  template?: TemplateValues;
  macro_sha256?: string;
  ratdb_tag?: string;
  /** The request it came from, and where in it: a resubmission finds what it already wrote. */
  request?: string;
  /** An exact copy of another pass of the same job (`gasp submit --like`): which, and the call that made it. */
  like?: { pass: number; token: string };
  /** 1, or 2, 3 … for each --new-pass resubmission of the same request. */
  request_generation?: number;
  request_entry?: number;
  request_index?: number;
  /** Processing: reads only the raw subfiles that reached this pass's run after that pass was taken (`gasp process --late new-pass`). */
  late_of?: number;
  /** Processing: the module's level, and the passes this one needs first. */
  level?: ProcessingModule['level'];
  prerequisites?: PassRef[];
  /** The site that holds the pass; absent while it waits. */
  site?: string;
  /**
   * Written when a site claims the pass, before any backend call: the token names its jobs, so a
   * restarted client finds them; the lease ends unless the site renews it.
   */
  claim?: { token: string; at: string; lease_until: string };
  /** The latest attempts, oldest first: at most MAX_ATTEMPTS_KEPT, so a pass retried for months stays small. */
  attempts: Attempt[];
  /** Set by `gasp cancel` on a held pass: the site that holds it cancels its jobs and marks it canceled. */
  cancel_requested?: string;
  /** How many older attempts were dropped to keep the document small. */
  attempts_dropped?: number;
  subjobs?: Subjob[];
}

/** One per (module, run) in a database. */
export interface JobDoc {
  _id: string;
  _rev?: string;
  _attachments?: Record<string, { content_type: string; data?: string; stub?: boolean }>;
  type: 'job';
  module: string;
  run: number;
  passes: Pass[];
}

/** Where one copy of a file is: a storage element's name and the file's URL on it. */
export interface Replica {
  se: string;
  url: string;
  /** When `gasp verify --yes` found this copy gone (ISO time): grab and verify skip it. */
  missing?: string;
}

/** One subjob's file in a data document: what the grid's catalogues (DIRAC, Rucio) keep of a file. */
export interface DataFile {
  subjob: number;
  name: string;
  /** The logical file name: the path below the storage element's root, the same on every SE. */
  lfn: string;
  /** A uuid made when the file is first recorded, never changed by recording it again. */
  guid: string;
  size: number;
  /** The grid's checksum, as the SE computed it where it offers one. */
  adler32: string;
  sha256: string;
  events: number | null;
  /** The first replica's URL, kept for readers of documents written before replicas. */
  url: string;
  replicas: Replica[];
}

/** One per (job, pass, data type), aggregating the subfiles. */
export interface DataDoc {
  _id: string;
  _rev?: string;
  type: 'data';
  module: string;
  run: number;
  pass: number;
  label: Label;
  /**
   * The RAT version of the pass that made the files (GridTools lists data by it). Absent on documents
   * written before gasp recorded it, until `gasp migrate --yes` copies it from the job document.
   */
  rat_version?: string;
  data_type: string;
  files: DataFile[];
}

/** One production module: a macro of the release, what it needs and what it makes. */
export interface ProductionModule {
  /** The macro, relative to the release folder. */
  path: string;
  phase: string;
  event_mode: EventMode;
  /** Data types in the order the macro adds them: ratds, ntuple, soc, other_ratds, other_ntuple. */
  outputs: string[];
  /** For each other_<kind> output: what its file name adds (`_scintFit`). */
  other_suffix?: Record<string, string>;
  /** For each output: named by the macro (`/rat/procset file`), by rat's command line (`-o`), or by nothing. Absent: all by the macro. */
  output_naming?: Record<string, OutputNaming>;
  /** Why the outputs cannot all be named: every job would fail, so submit refuses the module. */
  unnameable?: string;
  /** The macro's `${field}`s, in order of first appearance. */
  template: string[];
  /** Of the macro's bytes, so a pass records exactly what it ran. */
  sha256: string;
}

/** One per RAT version: what each production module is and makes. */
export interface ProductionInfoDoc {
  _id: string;
  _rev?: string;
  type: 'production_information';
  rat_version: string;
  modules: Record<string, ProductionModule>;
}

/** A raw subfile of a run: `url` says where jobs read it (file:// or root://); without one, jobs are given its name. */
export interface RawSubfileEntry {
  name: string;
  size: number;
  checksum: string;
  url?: string;
}

/** A detector run, registered by `gasp runs add`: processing jobs are made from it. */
export interface RunDoc {
  _id: string;
  _rev?: string;
  type: 'run';
  run: number;
  run_type: string;
  subfiles: RawSubfileEntry[];
  /** false: the run is still being written (`gasp runs watch`), so no processing jobs yet; absent: complete. */
  complete?: boolean;
}

export function runId(run: number): string {
  return `run:${run}`;
}

/**
 * An output a processing module leaves to the GangaSNOplus client (`ganga_outputs`), as its
 * information file writes it: `PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", dbName = …)` is
 * `{call: 'PGSQLFile', args: {namePattern: 'CSS_RESULT_*.ratdb', dbName: …}}`.
 */
export interface GangaOutput {
  call: string;
  args: Record<string, unknown>;
}

/** One processing module: its level, macro (or script), outputs and the modules it needs first. */
export interface ProcessingModule {
  /** macro: run by rat (absent: macro); script: a bash script run in the RAT environment, as GASP ran it. */
  type?: 'macro' | 'script';
  /** sub_run: a job per subrun file; run: one per run; run_zdab / run_root: one per run over its raw / ROOT files. */
  level: 'sub_run' | 'run' | 'run_zdab' | 'run_root';
  /** The macro or script, relative to the release. */
  path: string;
  outputs: string[];
  /** What the other_* outputs' file names add (`_scintFit`): one for all, or one per output. */
  other_suffix?: string | Record<string, string>;
  /** Outputs the GangaSNOplus client handled (database posts); gasp keeps them but does not handle them. */
  ganga_outputs?: GangaOutput[];
  prerequisites: string[];
  /** Reads the run's raw data. */
  raw_processor: boolean;
  /** The module's nhit cut: fills the macro's `${nhit_cut}`. */
  nhit_cut?: number;
}

/** One per RAT version, written by hand: processing modules and which run types need them. */
export interface ProcessingInfoDoc {
  _id: string;
  _rev?: string;
  type: 'processing_information';
  rat_version: string;
  modules: Record<string, ProcessingModule>;
  run_types: Record<string, string[]>;
}

export function jobId(module: string, run: number): string {
  return `job:${module}:${run}`;
}

/** `production_information_7_0_8` for RAT 7.0.8: the name production managers already use. */
export function productionInfoId(ratVersion: string): string {
  return `production_information_${ratVersion.replaceAll('.', '_')}`;
}

export function processingInfoId(ratVersion: string): string {
  return `processing_information_${ratVersion.replaceAll('.', '_')}`;
}

/**
 * What is wrong with a pass as stored, for a client that must skip a document someone wrote by hand
 * or an older tool left, rather than fail its whole cycle on it; undefined when it is well formed.
 */
export function malformedPass(pass: unknown): string | undefined {
  if (typeof pass !== 'object' || pass === null) return 'a pass is not an object';
  const fields = pass as Record<string, unknown>;
  if (typeof fields.pass !== 'number' || !Number.isInteger(fields.pass))
    return `pass: ${JSON.stringify(fields.pass)} is not a whole number`;
  if (typeof fields.status !== 'string' || !(PASS_STATUSES as readonly string[]).includes(fields.status))
    return `pass ${fields.pass}: status ${JSON.stringify(fields.status)} is not one of ${PASS_STATUSES.join(', ')}`;
  if (typeof fields.rat_version !== 'string') return `pass ${fields.pass}: rat_version is not text`;
  const label = malformedLabel(fields.label);
  if (label !== undefined) return `pass ${fields.pass}: ${label}`;
  if (!Array.isArray(fields.attempts)) return `pass ${fields.pass}: attempts is not a list`;
  if (fields.subjobs !== undefined && !Array.isArray(fields.subjobs))
    return `pass ${fields.pass}: subjobs is not a list`;
  return undefined;
}

/** Attempts a pass keeps; older ones are counted in `attempts_dropped`. */
export const MAX_ATTEMPTS_KEPT = 20;

/** The pass's history with one more attempt, the oldest dropped (and counted) beyond MAX_ATTEMPTS_KEPT. */
export function withAttempt(pass: Pass, attempt: Attempt): Pick<Pass, 'attempts' | 'attempts_dropped'> {
  const attempts = [...pass.attempts, attempt];
  const dropped = Math.max(0, attempts.length - MAX_ATTEMPTS_KEPT);
  if (dropped === 0) return { attempts };
  return { attempts: attempts.slice(dropped), attempts_dropped: (pass.attempts_dropped ?? 0) + dropped };
}
