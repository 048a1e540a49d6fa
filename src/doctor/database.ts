import { ServerClock } from '../db/clock.js';
import type { Database, Server } from '../db/database.js';
import { indexLag, loadDesignDocs, plannedPushes, type DesignDoc } from '../db/design-docs.js';
import { AuthError, UnreachableError } from '../db/errors.js';
import { BUNDLED_VIEWS } from '../paths.js';
import { plural } from '../words.js';
import { failed, guarded, oneLine, passed, type Check } from './check.js';
import type { DoctorSetup } from './setup.js';

/** A clock further off than this is a problem: logs, batch-system times and people disagree with gasp's. */
export const MAX_CLOCK_SKEW_SECONDS = 120;

/** An index more changes behind than this makes the first queries wait long (and a client's time out). */
export const MAX_INDEX_LAG = 10_000;

/** `401 unauthorized` / `403 forbidden`: how a refusal is named. */
const refusal = (error: AuthError) =>
  `${error.statusCode ?? ''} ${error.statusCode === 403 ? 'forbidden' : 'unauthorized'}`.trim();

const who = (setup: DoctorSetup) =>
  setup.config.couchdb.user === undefined ? 'anonymous (no [couchdb] user)' : `user ${setup.config.couchdb.user}`;

/** The servers of the databases, one each. */
export function serversOf(databases: readonly Database[]): Server[] {
  const byUrl = new Map<string, Server>();
  for (const db of databases) if (!byUrl.has(db.couch.url)) byUrl.set(db.couch.url, db.couch);
  return [...byUrl.values()];
}

/** Whether the server answers (a 401/403 is an answer) and whether it takes our credentials. */
export async function checkServer(setup: DoctorSetup, server: Server): Promise<Check[]> {
  const configFile = setup.config.file;
  try {
    const welcome = await server.request<Record<string, unknown>>({});
    const product = 'express-pouchdb' in welcome ? 'PouchDB Server' : 'CouchDB';
    const vendor = [product, welcome.version].filter((part) => typeof part === 'string').join(' ');
    await server.request({ path: '_session' });
    return [passed('database', `${server.url} answers (${vendor})`), passed('credentials', `${who(setup)} accepted`)];
  } catch (error) {
    if (error instanceof AuthError)
      return [
        passed('database', `${server.url} answers`),
        failed(
          'credentials',
          `${refusal(error)}: ${server.url} refuses ${who(setup)}`,
          `correct [couchdb] user and password_file (or password_env) in ${configFile}`,
        ),
      ];
    if (!(error instanceof UnreachableError)) throw error;
    return [
      {
        ...failed(
          'database',
          `${server.url} does not answer (${error.reason ?? oneLine(error)})`,
          `start the database (gasp serve, or ask its admin), or correct [couchdb] url in ${configFile}`,
        ),
        transient: true,
      },
    ];
  }
}

/** Each database exists and this user may read it. */
export async function checkDatabasesExist(setup: DoctorSetup): Promise<{ checks: Check[]; present: Database[] }> {
  const missing: string[] = [];
  const refused: string[] = [];
  const present: Database[] = [];
  for (const db of setup.databases) {
    try {
      if (await db.exists()) present.push(db);
      else missing.push(db.name);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      refused.push(`${refusal(error)}: ${who(setup)} may not read ${db.name}`);
    }
  }
  const checks: Check[] = [];
  if (refused.length > 0)
    checks.push(
      failed('databases', refused.join('; '), `ask the database's admin to add ${who(setup)} to its members`),
    );
  if (missing.length > 0)
    checks.push(
      failed(
        'databases',
        `${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist`,
        `gasp views push ${setup.configArgs}--create`,
      ),
    );
  if (checks.length === 0)
    checks.push(
      passed('databases', `${present.map((db) => db.name).join(', ')} ${present.length === 1 ? 'exists' : 'exist'}`),
    );
  return { checks, present };
}

/** Per database: `gasp views push` would say unchanged for every design document. */
export async function checkDesignDocs(setup: DoctorSetup, db: Database): Promise<Check[]> {
  const docs = loadDesignDocs(BUNDLED_VIEWS);
  const pending = (await plannedPushes(db, docs)).flatMap(({ doc, outcome }) =>
    outcome === 'unchanged' ? [] : [`${doc._id} would be ${outcome}`],
  );
  if (pending.length === 0)
    return [passed('design documents', `${db.name}: ${plural(docs.length, 'design document')} current`)];
  return [
    failed('design documents', `${db.name}: ${pending.join(', ')}`, `gasp views push ${setup.configArgs}`.trim()),
  ];
}

/** Per database: how far each design document's index is behind, or unknown where the server does not say. */
export async function checkViewIndexes(setup: DoctorSetup, db: Database): Promise<Check[]> {
  const docs: DesignDoc[] = loadDesignDocs(BUNDLED_VIEWS);
  const lags = await Promise.all(
    docs.map(async (doc) => ({ id: doc._id, lag: await indexLag(db, doc._id.replace(/^_design\//, '')) })),
  );
  if (lags.every(({ lag }) => lag === undefined))
    return [passed('view indexes', `${db.name}: unknown (the server does not say how far its indexes are)`)];
  const behind = lags.filter(({ lag }) => lag !== undefined && lag > 0);
  if (behind.length === 0) return [passed('view indexes', `${db.name}: built`)];
  const detail = `${db.name}: ${behind.map(({ id, lag }) => `${id} ${plural(lag ?? 0, 'change')} behind`).join(', ')}`;
  if (behind.every(({ lag }) => (lag ?? 0) <= MAX_INDEX_LAG)) return [passed('view indexes', detail)];
  return [failed('view indexes', detail, `gasp views push ${setup.configArgs}--wait (builds them now)`)];
}

/** The server's clock against this machine's. */
export async function checkClock(server: Server): Promise<Check[]> {
  return guarded('server clock', 'see why the server does not answer a HEAD request', async () => {
    const clock = new ServerClock(server);
    await clock.sync();
    const seconds = clock.offsetMs / 1000;
    const detail = `the server's clock is ${Math.abs(seconds).toFixed(1)} s ${seconds >= 0 ? 'ahead of' : 'behind'} this machine's`;
    if (Math.abs(seconds) <= MAX_CLOCK_SKEW_SECONDS) return [passed('server clock', detail)];
    return [
      failed(
        'server clock',
        `${detail} (expected ${MAX_CLOCK_SKEW_SECONDS} s at most)`,
        "set this machine's clock (or the server's) by NTP: timedatectl set-ntp true",
      ),
    ];
  });
}
