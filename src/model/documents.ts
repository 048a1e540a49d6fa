import type { PassStatus } from './status.js';

/**
 * Document shapes in both databases. Field names are snake_case because they are CouchDB's and the
 * views' (views/), which other tools read too. Every document says what it is in `type`.
 */

export interface Subjob {
  /** Subrun or subfile index; 0 where the module works on the whole run. */
  index: number;
  backend_id?: string;
  exit_code?: number;
  started?: string;
  finished?: string;
}

export interface Attempt {
  site: string;
  status: PassStatus;
  started: string;
  finished?: string;
}

export interface Pass {
  pass: number;
  status: PassStatus;
  rat_version: string;
  label: string;
  priority: number;
  /** ISO time the pass was requested: the serial queue order. */
  created: string;
  ratdb_tag?: string;
  /** The site that holds the pass; absent while it waits. */
  site?: string;
  attempts?: Attempt[];
  subjobs?: Subjob[];
}

/** One per (module, run) in a database. */
export interface JobDoc {
  _id: string;
  _rev?: string;
  type: 'job';
  module: string;
  run: number;
  passes: Pass[];
}

/** One per (job, pass, data type), aggregating the subfiles. */
export interface DataDoc {
  _id: string;
  _rev?: string;
  type: 'data';
  module: string;
  run: number;
  pass: number;
  label: string;
  data_type: string;
  files: Array<{ path: string; size: number; checksum?: string; events?: number }>;
}

/** One per RAT version: what each production module is and makes. */
export interface ProductionInfoDoc {
  _id: string;
  _rev?: string;
  type: 'production_information';
  rat_version: string;
  modules: Record<string, unknown>;
}

export function jobId(module: string, run: number): string {
  return `job:${module}:${run}`;
}

/** `production_information_7_0_8` for RAT 7.0.8: the name production managers already use. */
export function productionInfoId(ratVersion: string): string {
  return `production_information_${ratVersion.replaceAll('.', '_')}`;
}
