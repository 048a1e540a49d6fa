import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { MODES, type Mode } from '../config/config.js';
import {
  asSection,
  iniFile,
  integer,
  Invalid,
  listOf,
  matching,
  fraction,
  nOfM,
  oneOf,
  optional,
  positiveNumber,
  required,
  section,
  show,
  text,
  withDefault,
} from '../config/fields.js';
import { readIni, validateIni } from '../config/ini-file.js';
import { DEFAULT_QUARANTINE_AFTER } from '../model/health.js';
import { InputError } from '../errors.js';
import { placeholders } from '../shell.js';
import { parseRootUrl, rootUrl } from '../model/storage-url.js';
import {
  DEFAULT_CVMFS,
  DEFAULT_RAT_SETUP,
  RAT_PLACEHOLDERS,
  RAT_VERSION,
  type RatScheme,
  type RatVersion,
} from './rat.js';

export const BACKENDS = ['local', 'slurm', 'condor', 'dirac', 'dry'] as const;
export type BackendKind = (typeof BACKENDS)[number];

/**
 * Where outputs go: a folder, a storage element reached by root:// (copied with XRootD's xrdcp, or
 * gfal2's gfal-copy where the site prefers it), or a copy command run as an argument array (never
 * through a shell).
 */
export type Storage =
  { kind: 'file'; root: string } | { kind: 'root'; url: string } | { kind: 'copy'; command: string[] };

export const STORAGE_TOOLS = ['xrootd', 'gfal'] as const;
export type StorageTool = (typeof STORAGE_TOOLS)[number];

/**
 * The grid proxy a site's jobs need, read with voms-proxy-info or dirac-proxy-info (src/sites/proxy.ts);
 * `none`: no proxy. Without the key: dirac for a DIRAC site, none elsewhere (set voms for root://
 * storage reached with X.509).
 */
export const PROXY_KINDS = ['voms', 'dirac', 'none'] as const;
export type ProxyKind = (typeof PROXY_KINDS)[number];

const storage = (value: string): Storage => {
  if (/^x?root:/.test(value)) {
    try {
      const { server, path } = parseRootUrl(value);
      return { kind: 'root', url: rootUrl(server, path) };
    } catch (error) {
      throw new Invalid((error as Error).message);
    }
  }
  if (value.startsWith('file:')) {
    const url = new URL(value);
    // file://data/out would make "data" the host and write to /out
    if (url.hostname !== '' && url.hostname !== 'localhost')
      throw new Invalid('has a host name where the folder should start; file:///folder takes three slashes');
    const root = decodeURIComponent(url.pathname);
    if (root === '/' || root === '') throw new Invalid('names no folder');
    return { kind: 'file', root };
  }
  if (/["'\\]/.test(value))
    throw new Invalid('has quotes or backslashes, but it is split on spaces and never run by a shell');
  const command = value.split(/\s+/).filter((word) => word !== '');
  if (!value.includes('{src}') || !value.includes('{dest}'))
    throw new Invalid('is neither a file:// or root:// URL nor a command with {src} and {dest}');
  return { kind: 'copy', command };
};

const quarantineRule = (value: string): { failed: number; of: number } | null => {
  if (value === 'off') return null;
  const rule = nOfM(value);
  if (rule === undefined) throw new Invalid('is not n/m with n less than m, nor off');
  return rule;
};

const SLURM_TIME = /^(\d+-)?\d+(:\d{1,2}){0,2}$/;
const MEMORY = /^\d+[KMGT]?B?$/i;

function setupTemplate(value: string): string {
  const unknown = placeholders(value).filter((name) => !(RAT_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Invalid(`uses {${unknown.join('}, {')}}, which is not known`);
  return value;
}

const SETUP_EXPECTED = `a set-up line using ${RAT_PLACEHOLDERS.map((name) => `{${name}}`).join(', ')}`;
const RAT_KEYS_EXPECTED = 'setup, cvmfs, a RAT version such as 7.0.8 = CVMFS or = /path/to/env.sh, or setup.<version>';

/** [rat]: `setup` and `cvmfs`, then one key per RAT version, and `setup.<version>` to override one. */
const ratSection = asSection(
  z.unknown().transform((raw, ctx): RatScheme => {
    if (typeof raw !== 'object' || raw === null) {
      const message = raw === undefined ? 'is missing' : `is a value, not a section`;
      ctx.addIssue({
        code: 'custom',
        message: `${message} (expected a [rat] section listing the RAT versions this site has)`,
      });
      return z.NEVER;
    }
    const entries = Object.entries(raw);
    const problem = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
    const values = new Map(entries.map(([key, value]) => [key, typeof value === 'string' ? value.trim() : value]));
    const read = (key: string, parse: (value: string) => string, expected: string): string | undefined => {
      const value = values.get(key);
      if (value === undefined) return undefined;
      try {
        if (typeof value !== 'string' || value === '') throw new Invalid('is not a value');
        return parse(value);
      } catch (error) {
        if (!(error instanceof Invalid)) throw error;
        problem(key, `${show(value)} ${error.message} (expected ${expected})`);
        return undefined;
      }
    };

    const versions = new Map<string, RatVersion>();
    for (const [key] of entries) {
      if (key === 'setup' || key === 'cvmfs' || key.startsWith('setup.')) continue;
      if (!RAT_VERSION.test(key)) {
        problem(key, `unknown key (expected ${RAT_KEYS_EXPECTED})`);
        continue;
      }
      const where = read(
        key,
        (value) => {
          if (value.toUpperCase() === 'CVMFS' || value.startsWith('/')) return value;
          throw new Invalid('is neither CVMFS nor an absolute path');
        },
        'CVMFS or the absolute path of an env script',
      );
      if (where === undefined) continue;
      versions.set(
        key,
        where.toUpperCase() === 'CVMFS'
          ? { version: key, source: 'cvmfs' }
          : { version: key, source: 'script', script: where },
      );
    }
    for (const [key] of entries) {
      if (!key.startsWith('setup.')) continue;
      const version = key.slice('setup.'.length);
      const template = read(key, setupTemplate, SETUP_EXPECTED);
      const entry = versions.get(version);
      if (entry === undefined) {
        problem(key, `overrides RAT ${version}, which [rat] does not list (expected ${version} = CVMFS or a path too)`);
      } else if (template !== undefined) {
        versions.set(version, { ...entry, setup: template });
      }
    }
    const versionLines = entries.filter(([key]) => key !== 'setup' && key !== 'cvmfs' && !key.startsWith('setup.'));
    if (versionLines.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'lists no RAT version (expected at least one line such as 7.0.8 = CVMFS)',
      });
    }
    return {
      cvmfs: read('cvmfs', (value) => value, 'the CVMFS root, such as /cvmfs/snoplus.egi.eu') ?? DEFAULT_CVMFS,
      setup: read('setup', setupTemplate, SETUP_EXPECTED) ?? DEFAULT_RAT_SETUP,
      versions,
    };
  }),
);

const siteSchema = iniFile({
  name: optional('a site name of letters, digits, _ . -', matching(/^[\w.-]+$/)),
  backend: required(BACKENDS.join(' | '), oneOf(BACKENDS)),
  max_jobs: withDefault('a whole number from 1 to 100000', integer(1, 100_000), 10),
  modes: withDefault(`a comma list of ${MODES.join(', ')}`, listOf(MODES), [...MODES]),
  storage: required('a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest}', storage),
  storage_tool: withDefault(
    'xrootd (xrdcp, xrdfs) or gfal (gfal-copy, gfal-sum) for root:// storage',
    oneOf(STORAGE_TOOLS),
    'xrootd',
  ),
  proxy: optional('voms | dirac | none: the grid proxy its jobs need', oneOf(PROXY_KINDS)),
  se: optional('a storage element name of letters, digits, _ . - (such as SFU-SE)', matching(/^[\w.-]+$/)),
  rat: ratSection,
  local: section({
    workdir: withDefault('a folder for job working directories', text, '.gasp/jobs'),
  }),
  slurm: section({
    partition: optional('a Slurm partition name', matching(/^[\w.-]+$/)),
    account: optional('a Slurm account name', matching(/^[\w.-]+$/)),
    qos: optional('a Slurm QOS name', matching(/^[\w.-]+$/)),
    time: withDefault('a Slurm time limit such as 12:00:00 or 1-00:00:00', matching(SLURM_TIME), '12:00:00'),
    mem: withDefault('a memory size such as 4G', matching(MEMORY), '4G'),
  }),
  condor: section({
    universe: withDefault(
      'vanilla | docker | container',
      oneOf(['vanilla', 'docker', 'container'] as const),
      'vanilla',
    ),
    request_memory: withDefault('a memory size such as 4G', matching(MEMORY), '4G'),
    request_disk: withDefault('a disk size such as 10G', matching(MEMORY), '10G'),
    requirements: optional('a ClassAd expression', text),
    accounting_group: optional('an accounting group name', matching(/^[\w.-]+$/)),
  }),
  dirac: section({
    setup: optional('the absolute path of the DIRAC client env script', matching(/^\//)),
    group: withDefault('a DIRAC group such as snoplus_user', matching(/^[\w.-]+$/), 'snoplus_user'),
    cpu_time: withDefault('seconds of CPU time, more than 0', positiveNumber(), 86_400),
    platform: optional('a DIRAC platform name', matching(/^[\w.-]+$/)),
    sites: optional('a comma list of DIRAC site names', text),
    banned_sites: optional('a comma list of DIRAC site names', text),
  }),
  health: section({
    quarantine_after: withDefault(
      'n/m: quarantine after more than n set-up or staging failures among the last m ended passes, or off',
      quarantineRule,
      DEFAULT_QUARANTINE_AFTER,
    ),
  }),
  dry: section({
    outcome: withDefault('completed | failed', oneOf(['completed', 'failed'] as const), 'completed'),
    fail_calls: withDefault('a fraction from 0 to 1', fraction, 0),
  }),
});

type SiteFields = z.output<typeof siteSchema>;

export interface Site {
  file: string;
  name: string;
  backend: BackendKind;
  maxJobs: number;
  modes: Mode[];
  storage: Storage;
  /** How the job wrapper reaches root:// storage. */
  storageTool: StorageTool;
  /** The storage element's name in replicas; undefined: named after the storage URL's host. */
  se: string | undefined;
  /** The grid proxy its jobs need: claims stop while it has less left than a job may run. */
  proxy: ProxyKind;
  rat: RatScheme;
  local: SiteFields['local'];
  slurm: SiteFields['slurm'];
  condor: SiteFields['condor'];
  dirac: SiteFields['dirac'];
  dry: SiteFields['dry'];
  /** Set-up or staging failures among the last ended passes that quarantine the site; null: never. */
  quarantineAfter: { failed: number; of: number } | null;
}

/** Reads and validates a site file; throws InputError listing every problem. */
export function loadSite(file: string): Site {
  const values = readIni(file);
  const fields = validateIni(file, values, siteSchema);
  return {
    file,
    name: fields.name ?? basename(file, '.ini'),
    backend: fields.backend,
    maxJobs: fields.max_jobs,
    modes: fields.modes,
    storage: fields.storage,
    storageTool: fields.storage_tool,
    se: fields.se,
    proxy: fields.proxy ?? (fields.backend === 'dirac' ? 'dirac' : 'none'),
    rat: fields.rat,
    local: fields.local,
    slurm: fields.slurm,
    condor: fields.condor,
    dirac: fields.dirac,
    dry: fields.dry,
    quarantineAfter: fields.health.quarantine_after,
  };
}

/** Every `*.ini` in a folder; problems from all files are reported together. */
export function loadSites(dir: string): Site[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => name.endsWith('.ini'))
      .sort();
  } catch (error) {
    throw new InputError([
      `${dir}: cannot be listed (${(error as NodeJS.ErrnoException).code ?? 'error'}) (expected a folder of site files)`,
    ]);
  }
  if (names.length === 0) throw new InputError([`${dir}: has no .ini files (expected site files such as local.ini)`]);
  const sites: Site[] = [];
  const problems: string[] = [];
  for (const name of names) {
    try {
      sites.push(loadSite(join(dir, name)));
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(...error.problems);
    }
  }
  const byName = new Map<string, string>();
  for (const site of sites) {
    const other = byName.get(site.name);
    if (other !== undefined)
      problems.push(
        `${site.file}: name: "${site.name}" is also the name of ${other} (expected each site to have its own name)`,
      );
    byName.set(site.name, site.file);
  }
  if (problems.length > 0) throw new InputError(problems);
  return sites;
}
