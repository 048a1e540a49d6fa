import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { EVENT_MODES, type EventMode } from '../model/event-mode.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { Secret } from '../secret.js';
import {
  httpUrl,
  iniFile,
  Invalid,
  integer,
  matching,
  oneOf,
  optional,
  patternWithGroups,
  positiveNumber,
  section,
  sectionsOf,
  show,
  text,
  withDefault,
  yesNo,
} from './fields.js';
import { describeIssues, readIni, type IniValues } from './ini-file.js';
import { notifySection, resolveNotify, type NotifyConfig } from './notify-settings.js';

export type { NotifyConfig };

/** Seconds without a heartbeat after which a site counts as dead (`[coordination] stale`). */
export const DEFAULT_STALE_SECONDS = 1800;

export const MODES = ['production', 'processing'] as const;
export type Mode = (typeof MODES)[number];

export const QUEUE_ORDERS = ['priority', 'runlevel', 'newfirst', 'serial'] as const;
export type QueueOrder = (typeof QUEUE_ORDERS)[number];

/** CouchDB's rule for database names. */
const DATABASE_NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const couchUrl = (value: string): URL => {
  const url = httpUrl(value);
  if (url.username !== '' || url.password !== '')
    throw new Invalid('has a user or password in it (put them in user and password_file or password_env)');
  return url;
};

export const DEFAULT_PHASES = ['teloaded', 'scint', 'water', 'partial'] as const;
/** Solar and reactor-neutrino generators: they set their own rate. */
export const DEFAULT_INTERNAL_RATE_GENERATORS = ['solar', 'reacibd'] as const;

const names = (value: string): string[] => {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new Invalid('is empty');
  const bad = items.find((item) => !/^[\w.-]+$/.test(item));
  if (bad !== undefined) throw new Invalid(`has ${show(bad)}, which is not a name`);
  return [...new Set(items)];
};

/** What `[grab] prefer` and `gasp grab --prefer` expect. */
export const SE_NAMES_EXPECTED = 'a comma list of storage element names, such as SFU-SE, RAL-SE';

/**
 * Storage element names as replicas carry them: a site's `se` (SFU-SE), or `root://host:port` for
 * a site that names none.
 */
export const storageElementNames = (value: string): string[] => {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new Invalid('is empty');
  const bad = items.find((item) => !/^([\w.-]+|[a-z][\w+.-]*:\/\/[^/\s,]+)$/i.test(item));
  if (bad !== undefined)
    throw new Invalid(
      items.length === 1 ? 'is not a storage element name' : `has ${show(bad)}, which is not a storage element name`,
    );
  return [...new Set(items)];
};

const folderNames = (value: string): string[] => {
  const items = names(value);
  const bad = items.find((item) => item === '.' || item === '..');
  if (bad !== undefined) throw new Invalid(`has ${show(bad)}, which is not a folder name`);
  return items;
};

/** [production.modes]: `<module glob> = <event mode>`, in file order (the first match wins). */
const modeOverrides = z.unknown().transform((raw, ctx): ModeOverride[] => {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null) {
    ctx.addIssue({
      code: 'custom',
      message: 'is a value (expected a [production.modes] section of <module glob> = <event mode>)',
    });
    return z.NEVER;
  }
  const overrides: ModeOverride[] = [];
  for (const [pattern, mode] of Object.entries(raw)) {
    if (typeof mode === 'string' && (EVENT_MODES as readonly string[]).includes(mode.trim())) {
      overrides.push({ pattern, mode: mode.trim() as EventMode });
    } else {
      ctx.addIssue({
        code: 'custom',
        path: [pattern],
        message: `${show(mode)} is not an event mode (expected ${EVENT_MODES.join(' | ')})`,
      });
    }
  }
  return overrides;
});

const configSections = {
  couchdb: {
    url: withDefault('http(s)://host:port', couchUrl, new URL('http://127.0.0.1:5984')),
    database: optional('a CouchDB database name such as data-production', matching(DATABASE_NAME)),
    user: optional('a CouchDB user name', text),
    password_file: optional('a file holding the password', text),
    password_env: optional('the name of an environment variable holding the password', matching(ENV_NAME)),
    password: optional('a password', text),
    timeout: withDefault('seconds, more than 0 and at most 3600', positiveNumber(3600), 30),
  },
  client: {
    site: withDefault('a site name such as local, or a path to a site file', matching(/^[\w./-]+$/), 'local'),
    sites_dir: withDefault('a folder of site files', text, '../sites'),
    mode: withDefault(MODES.join(' | '), oneOf(MODES), 'production'),
    queue: withDefault(QUEUE_ORDERS.join(' | '), oneOf(QUEUE_ORDERS), 'priority'),
    interval: withDefault('seconds, more than 0', positiveNumber(86_400), 60),
    max_claim: withDefault('a whole number from 1 to 10000', integer(1, 10_000), 50),
    proxy_check: withDefault('seconds between grid proxy checks, more than 0', positiveNumber(86_400), 3600),
  },
  logging: {
    level: withDefault(LOG_LEVELS.join(' | '), oneOf(LOG_LEVELS), 'info'),
  },
  coordination: {
    serialize: withDefault('yes or no', yesNo, false),
    heartbeat: withDefault('seconds, more than 0', positiveNumber(86_400), 600),
    stale: withDefault('seconds, more than heartbeat', positiveNumber(7 * 86_400), DEFAULT_STALE_SECONDS),
    conflict_delay: withDefault('seconds, more than 0', positiveNumber(86_400), 60),
  },
  dashboard: {
    user: optional('a user name for the dashboard page', text),
    password_file: optional('a file holding the password', text),
    password_env: optional('the name of an environment variable holding the password', matching(ENV_NAME)),
    password: optional('a password', text),
  },
  notify: notifySection,
  production: {
    phases: withDefault('a comma list of folder names under mac/production', folderNames, [...DEFAULT_PHASES]),
    internal_rate_generators: withDefault('a comma list of RAT generator names', names, [
      ...DEFAULT_INTERNAL_RATE_GENERATORS,
    ]),
    modes: modeOverrides,
  },
  grab: {
    prefer: withDefault(SE_NAMES_EXPECTED, storageElementNames, [] as string[]),
  },
  processing: {
    raw_pattern: withDefault(
      'a regular expression with groups (?<run>…) and (?<subfile>…)',
      patternWithGroups(['run', 'subfile']),
      /^SNOP_(?<run>\d{10})_(?<subfile>\d{3})\.zdab$/,
    ),
    closed_pattern: withDefault(
      'a regular expression with a group (?<run>…)',
      patternWithGroups(['run']),
      /^SNOP_(?<run>\d{10})\.closed$/,
    ),
    type_pattern: withDefault(
      'a regular expression with a group (?<run>…)',
      patternWithGroups(['run']),
      /^SNOP_(?<run>\d{10})\.type$/,
    ),
    run_type: withDefault('a run type such as Physics', matching(/^\S+$/), 'Physics'),
  },
};

/** Keys that hold a nested section, which no environment variable can override. */
const NESTED_KEYS = new Set(['production.modes']);

const configSchema = iniFile({
  couchdb: section(configSections.couchdb),
  client: section(configSections.client),
  logging: section(configSections.logging),
  coordination: section(configSections.coordination),
  dashboard: section(configSections.dashboard),
  notify: section(configSections.notify),
  production: section(configSections.production),
  grab: section(configSections.grab),
  processing: section(configSections.processing),
});

/** How the sites sharing a database take turns and tell each other they are alive. */
export interface CoordinationConfig {
  /** Only one site submits at a time (the leader), handing over in turn. */
  serialize: boolean;
  heartbeatSeconds: number;
  /** A site whose last heartbeat is older than this is dead to the others. */
  staleSeconds: number;
  /** After losing a race for the leader document, wait this long before trying again. */
  conflictDelaySeconds: number;
}

export interface CouchConfig {
  url: URL;
  database: string;
  user?: string;
  password?: Secret;
  /** Where the password came from, for `config check`: `password_file /path`, `password_env NAME`. */
  passwordSource?: string;
  timeoutMs: number;
}

export interface ClientConfig {
  site: string;
  /** The site file the `site` key names. */
  siteFile: string;
  mode: Mode;
  queue: QueueOrder;
  intervalSeconds: number;
  maxClaim: number;
  /** Seconds between checks of the site's grid proxy while it runs. */
  proxyCheckSeconds: number;
}

/** An event mode for the modules whose names match a glob such as `Water*`, from [production.modes]. */
export interface ModeOverride {
  pattern: string;
  mode: EventMode;
}

export interface ProductionConfig {
  /** Folders under mac/production that make-production scans. */
  phases: string[];
  /** Generators that set their own rate, so a macro adding one is time-based. */
  internalRateGenerators: string[];
  modeOverrides: ModeOverride[];
}

export interface RawFilesConfig {
  /** A raw subfile: groups `run` and `subfile`. */
  rawPattern: RegExp;
  /** A file that says its run is closed (complete): group `run`. */
  closedPattern: RegExp;
  /** A file beside the run holding its run type: group `run`. */
  typePattern: RegExp;
  /** The run type of a run without a run type file. */
  runType: string;
}

export interface Config {
  /** The file, as messages name it (with "(not found: defaults)" when it was absent). */
  file: string;
  couchdb: CouchConfig;
  /** The credential the dashboard asks of its viewers (needed to serve beyond this machine). */
  dashboard: { credential?: { user: string; password: Secret } };
  client: ClientConfig;
  logging: { level: LogLevel };
  coordination: CoordinationConfig;
  /** What gasp tells people about (paused labels, quarantined or stale sites, the proxy, finished labels), where and when. */
  notify: NotifyConfig;
  production: ProductionConfig;
  /** `gasp grab`: the storage elements to fetch from first, in this order (then the others as recorded). */
  grab: { prefer: string[] };
  /** `gasp runs watch`: how raw files, closing files and run type files are named, and the default run type. */
  processing: RawFilesConfig;
  /** Accepted but unwise settings, one line each, for the caller to log. */
  warnings: string[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Set by a command-line option; wins over the file and the environment. */
  mode?: Mode;
  /** A file that does not exist counts as an empty one: defaults and the environment only. */
  missingIsEmpty?: boolean;
}

export function defaultConfigFile(mode: Mode, env: NodeJS.ProcessEnv = process.env): string {
  return env.GASP_CONFIG ?? `config/${mode}.cfg`;
}

/** The environment variable that overrides `[section] key`: GASP_COUCHDB_URL and so on. */
export function envName(sectionName: string, key: string): string {
  return `GASP_${sectionName}_${key}`.toUpperCase();
}

/** Every key an environment variable may override, for help text and the README. */
export function overridableKeys(): Array<{ section: string; key: string; env: string }> {
  return Object.entries(configSections).flatMap(([sectionName, shape]) =>
    Object.keys(shape)
      .filter((key) => !NESTED_KEYS.has(`${sectionName}.${key}`))
      .map((key) => ({ section: sectionName, key, env: envName(sectionName, key) })),
  );
}

function applyEnvironment(values: IniValues, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  for (const { section: sectionName, key, env: name } of overridableKeys()) {
    const value = env[name];
    if (value === undefined) continue;
    const current = values[sectionName];
    const target = typeof current === 'object' && current !== null ? (current as IniValues) : {};
    target[key] = value;
    values[sectionName] = target;
    applied.push(name);
  }
  return applied;
}

interface Credentials {
  user?: string;
  password?: Secret;
  passwordSource?: string;
}

/**
 * The user and password from the raw [couchdb] values. Works on raw text so that its problems are
 * reported together with the schema's, in one list.
 */
function resolveCredentials(
  section: 'couchdb' | 'dashboard',
  raw: unknown,
  where: string,
  file: string,
  env: NodeJS.ProcessEnv,
  fromEnvironment: readonly string[],
): Credentials & { problems: string[]; warnings: string[] } {
  const values = typeof raw === 'object' && raw !== null ? (raw as IniValues) : {};
  const read = (key: string): string | undefined => {
    const value = values[key];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const problems: string[] = [];
  const warnings: string[] = [];
  const user = read('user');
  const sources = ['password_file', 'password_env', 'password'].filter((key) => read(key) !== undefined);
  if (sources.length > 1) {
    problems.push(`${where}: [${section}] ${sources.join(', ')}: more than one password source (expected one of them)`);
  }
  let password: Secret | undefined;
  let passwordSource: string | undefined;
  const passwordFile = read('password_file');
  const passwordEnv = read('password_env');
  const literal = read('password');
  if (passwordFile !== undefined) {
    const path = passwordFile.startsWith('~/')
      ? join(homedir(), passwordFile.slice(2))
      : resolve(dirname(file), passwordFile);
    passwordSource = `password_file ${path}`;
    try {
      password = new Secret(readFileSync(path, 'utf8').trim());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(
        `${where}: [${section}] password_file: cannot read "${path}" (${code}) (expected a file holding the password)`,
      );
    }
  } else if (passwordEnv !== undefined && ENV_NAME.test(passwordEnv)) {
    passwordSource = `password_env ${passwordEnv}`;
    const value = env[passwordEnv];
    if (value === undefined || value === '') {
      problems.push(
        `${where}: [${section}] password_env: $${passwordEnv} is not set (expected the password in that environment variable)`,
      );
    } else {
      password = new Secret(value);
    }
  } else if (literal !== undefined) {
    password = new Secret(literal);
    const name = envName(section, 'password');
    passwordSource = fromEnvironment.includes(name) ? name : 'password in the file';
    if (!fromEnvironment.includes(name)) {
      warnings.push(
        `${where}: [${section}] password: a password in the file is readable by anyone who can read it (better: password_file or password_env)`,
      );
    }
  }
  if (passwordSource !== undefined && user === undefined) {
    problems.push(
      `${where}: [${section}] user: is missing (expected ${section === 'couchdb' ? 'a CouchDB user name' : 'a user name'} to go with the password)`,
    );
  }
  return {
    problems,
    warnings,
    ...(user !== undefined && { user }),
    ...(password !== undefined && { password, passwordSource }),
  };
}

/** [client], with the site file it names found beside the config file. */
function clientConfig(client: z.output<typeof configSchema>['client'], file: string, mode: Mode): ClientConfig {
  const siteFile =
    client.site.includes('/') || client.site.endsWith('.ini')
      ? resolve(dirname(file), client.site)
      : resolve(dirname(file), client.sites_dir, `${client.site}.ini`);
  return {
    site: client.site,
    siteFile,
    mode,
    queue: client.queue,
    intervalSeconds: client.interval,
    maxClaim: client.max_claim,
    proxyCheckSeconds: client.proxy_check,
  };
}

/** Reads, validates and resolves a config file; throws InputError listing every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const absent = options.missingIsEmpty === true && !existsSync(file);
  const values = absent ? {} : readIni(file);
  const overridden = applyEnvironment(values, env);
  const label = absent ? `${file} (not found: defaults)` : file;
  const where = overridden.length > 0 ? `${label} (with ${overridden.join(', ')})` : label;
  const parsed = configSchema.safeParse(values);
  const credentials = resolveCredentials('couchdb', values.couchdb, where, file, env, overridden);
  const viewer = resolveCredentials('dashboard', values.dashboard, where, file, env, overridden);
  const problems = [
    ...(parsed.success ? [] : describeIssues(where, values, parsed.error.issues, sectionsOf(configSchema))),
    ...credentials.problems,
    ...viewer.problems,
  ];
  const viewerWithout = `${where}: [dashboard] password_file: is missing (expected a password source to go with user ${viewer.user})`;
  if (viewer.user !== undefined && viewer.password === undefined) problems.push(viewerWithout);
  if (parsed.success && parsed.data.coordination.stale <= parsed.data.coordination.heartbeat) {
    const { stale, heartbeat } = parsed.data.coordination;
    problems.push(
      `${where}: [coordination] stale: "${stale}" is not more than heartbeat (${heartbeat}) (expected seconds, more than heartbeat: a live site would look dead between two heartbeats)`,
    );
  }
  const notify = parsed.success && resolveNotify(parsed.data.notify, where, dirname(file), env, problems);
  if (!parsed.success || !notify || problems.length > 0) throw new InputError(problems);
  const { couchdb, client, logging, coordination, production, grab, processing } = parsed.data;

  const mode = options.mode ?? client.mode;
  return {
    file: label,
    couchdb: {
      url: couchdb.url,
      database: couchdb.database ?? `data-${mode}`,
      ...(credentials.user !== undefined && { user: credentials.user }),
      ...(credentials.password !== undefined && {
        password: credentials.password,
        passwordSource: credentials.passwordSource,
      }),
      timeoutMs: Math.round(couchdb.timeout * 1000),
    },
    client: clientConfig(client, file, mode),
    logging: { level: logging.level },
    coordination: {
      serialize: coordination.serialize,
      heartbeatSeconds: coordination.heartbeat,
      staleSeconds: coordination.stale,
      conflictDelaySeconds: coordination.conflict_delay,
    },
    notify,
    production: {
      phases: production.phases,
      internalRateGenerators: production.internal_rate_generators,
      modeOverrides: production.modes,
    },
    grab: { prefer: grab.prefer },
    processing: {
      rawPattern: processing.raw_pattern,
      closedPattern: processing.closed_pattern,
      typePattern: processing.type_pattern,
      runType: processing.run_type,
    },
    dashboard: {
      ...(viewer.user !== undefined &&
        viewer.password !== undefined && { credential: { user: viewer.user, password: viewer.password } }),
    },
    warnings: [...credentials.warnings, ...viewer.warnings],
  };
}
