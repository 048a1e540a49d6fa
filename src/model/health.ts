/**
 * Site health: what kind of failure an exit code is (the job wrapper's codes, bin/gasp-job), and a
 * site's quarantine record. Set-up and staging failures say more about the site than about the job.
 */
/**
 * setup (10): the site's RAT set-up; job (11): the job's own macro or template values; input (12):
 * its root:// input could not be copied in or is not the recorded file; then rat, staging, manifest.
 */
export const EXIT_CLASSES = ['setup', 'job', 'input', 'rat', 'staging', 'manifest', 'other'] as const;
export type ExitClass = (typeof EXIT_CLASSES)[number];

const BY_CODE: Record<number, ExitClass> = {
  10: 'setup',
  11: 'job',
  12: 'input',
  20: 'rat',
  30: 'staging',
  40: 'manifest',
};

export const exitClass = (code: number | null): ExitClass => (code === null ? 'other' : (BY_CODE[code] ?? 'other'));

/** The failures that quarantine a site: its own set-up (RAT, CVMFS, the macro) or its storage. */
export const SITE_FAULTS: readonly ExitClass[] = ['setup', 'staging'];

/**
 * Written by a site that quarantined itself; it claims nothing, and keeps monitoring, until
 * `gasp resume --site` marks it resumed. The document stays: its health counts only passes that
 * ended after the resume, so the failures that quarantined it do not do so again.
 */
export interface QuarantineDoc {
  _id: string;
  _rev?: string;
  type: 'quarantine';
  site: string;
  since: string;
  reason: string;
  by: string;
  resumed?: { at: string; by: string };
}

export const isQuarantined = (doc: QuarantineDoc | undefined): doc is QuarantineDoc =>
  doc !== undefined && doc.resumed === undefined;

export const QUARANTINE_PREFIX = 'quarantine:';
export const quarantineId = (site: string) => `${QUARANTINE_PREFIX}${site}`;

export const DEFAULT_QUARANTINE_AFTER = { failed: 5, of: 10 } as const;
