import { fillShellTemplate } from '../shell.js';

/** How a site sets up one RAT version: the shared CVMFS layout, or an env script of its own. */
export type RatVersion =
  | { version: string; source: 'cvmfs'; setup?: string }
  | { version: string; source: 'script'; script: string; setup?: string };

export interface RatScheme {
  /** CVMFS root the default set-up line uses. */
  cvmfs: string;
  /** Set-up template for CVMFS versions; `{cvmfs}` and `{version}` are filled in. */
  setup: string;
  versions: ReadonlyMap<string, RatVersion>;
}

export const DEFAULT_CVMFS = '/cvmfs/snoplus.egi.eu';
export const DEFAULT_RAT_SETUP = 'source {cvmfs}/sw/{version}/env_rat-{version}.sh';
export const SCRIPT_RAT_SETUP = 'source {script}';
export const RAT_PLACEHOLDERS = ['cvmfs', 'version', 'script'] as const;

/** RAT versions look like 7.0.8 (a dev build may add a suffix: 7.0.9-rc1). */
export const RAT_VERSION = /^\d+\.\d+\.\d+([-+][\w.]+)?$/;

export function canRun(rat: RatScheme, version: string): boolean {
  return rat.versions.has(version);
}

/** The shell line that sets up `version` at this site, every value quoted; undefined if the site lacks it. */
export function ratSetupLine(rat: RatScheme, version: string): string | undefined {
  const entry = rat.versions.get(version);
  if (entry === undefined) return undefined;
  const template = entry.setup ?? (entry.source === 'cvmfs' ? rat.setup : SCRIPT_RAT_SETUP);
  return fillShellTemplate(template, {
    cvmfs: rat.cvmfs,
    version,
    ...(entry.source === 'script' && { script: entry.script }),
  });
}
