/** What the job wrapper (bin/gasp-job) writes as manifest.json. */
export interface Manifest {
  exit_code: number;
  wrapper_version?: string;
  /** The RATDB tag the wrapper set in the macro; null: none (the live RATDB). */
  ratdb_tag?: string | null;
  host?: string;
  started?: string;
  finished?: string;
  failed_stage?: string;
  error?: string;
  /** The root:// input the wrapper copied in (spec version 2): its copy's size and adler32, and the copy's seconds. */
  input?: { url: string; size: number; adler32: string; fetch_seconds: number };
  outputs: Array<{
    data_type: string;
    file: string;
    size: number;
    adler32: string;
    sha256: string;
    events: number | null;
    url: string;
    /** Seconds the wrapper spent staging it (copy, checks, rename), after its checksums were computed. */
    stage_seconds?: number;
  }>;
}
