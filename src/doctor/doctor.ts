import { checkProxy } from './proxy.js';
import { dirname } from 'node:path';
import type { Database } from '../db/database.js';
import type { Site } from '../sites/site.js';
import { failed, guarded, isProblem, passed, skipped, type Check } from './check.js';
import {
  checkClock,
  checkDatabasesExist,
  checkDesignDocs,
  checkServer,
  checkViewIndexes,
  serversOf,
} from './database.js';
import { checkBackend, checkFreeDisk, checkStorage } from './machine.js';
import type { DoctorSetup } from './setup.js';
import { checkMacros, checkRatSetups, checkSiteFile } from './site.js';

export type { Check } from './check.js';
export type { DoctorSetup } from './setup.js';

/**
 * Which checks: `all` for `gasp doctor`; `start` for `gasp enqueue` at its start, only the cheap ones
 * a client could not work without (database, design documents, site file, RAT set-up, storage).
 */
export type DoctorScope = 'all' | 'start';

/** What the database part found: the databases that are there, or why the checks needing them are skipped. */
interface DatabaseState {
  present: Database[];
  why?: string;
}

/** The database checks, in order: the server answers, takes our credentials, has the databases and current design documents. */
async function databaseChecks(
  setup: DoctorSetup,
  scope: DoctorScope,
): Promise<{ checks: Check[]; state: DatabaseState }> {
  const checks: Check[] = [];
  for (const server of serversOf(setup.databases))
    checks.push(...(await guarded('database', 'see the message', () => checkServer(setup, server))));
  const down = checks.find(isProblem);
  const later = ['databases', 'design documents', ...(scope === 'all' ? ['view indexes', 'server clock'] : [])];
  if (down !== undefined) {
    const why = down.name === 'credentials' ? 'the database refuses our credentials' : 'the database does not answer';
    return {
      checks: [...checks, ...later.map((name) => skipped(name, `skipped: ${why}`))],
      state: { present: [], why },
    };
  }
  let present: Database[] = [];
  const exist = await guarded('databases', 'see the message', async () => {
    const found = await checkDatabasesExist(setup);
    present = found.present;
    return found.checks;
  });
  checks.push(...exist);
  const current: Database[] = [];
  for (const db of present) {
    const found = await guarded('design documents', `gasp views push ${setup.configArgs}`.trim(), () =>
      checkDesignDocs(setup, db),
    );
    checks.push(...found);
    if (!found.some(isProblem)) current.push(db);
  }
  if (scope === 'all') {
    for (const db of present)
      checks.push(
        ...(current.includes(db)
          ? await guarded('view indexes', 'see the message', () => checkViewIndexes(setup, db))
          : [skipped('view indexes', `${db.name}: skipped: its design documents are not current`)]),
      );
    const [server] = serversOf(setup.databases);
    if (server !== undefined) checks.push(...(await checkClock(server)));
  }
  return { checks, state: { present } };
}

/** The site checks, in order: its file, each RAT version's set-up and macros, the backend, storage, free disk. */
async function siteChecks(
  setup: DoctorSetup,
  scope: DoctorScope,
  databaseDone: Promise<DatabaseState>,
  given?: Site,
): Promise<Check[]> {
  const found = given === undefined ? checkSiteFile(setup) : { checks: [], site: given };
  const checks = [...found.checks];
  const site = found.site;
  if (site === undefined || checks.some(isProblem)) {
    const later = [
      'RAT set-up',
      ...(scope === 'all' ? ['backend'] : []),
      'storage',
      ...(scope === 'all' ? ['free disk'] : []),
    ];
    return [...checks, ...later.map((name) => skipped(name, 'skipped: no valid site file'))];
  }
  let ratroots = new Map<string, string>();
  const ratFix = `gasp sites check ${dirname(site.file)}`;
  checks.push(
    ...(await guarded('RAT set-up', ratFix, async () => {
      const rat = await checkRatSetups(site);
      ratroots = rat.ratroots;
      return rat.checks;
    })),
  );
  if (scope === 'all') {
    const [db] = setup.databases;
    const database = await databaseDone;
    for (const version of site.rat.versions.keys()) {
      const name = `macros ${version}`;
      const ratroot = ratroots.get(version);
      if (ratroot === undefined) checks.push(skipped(name, 'skipped: no RATROOT from its set-up here'));
      else if (db === undefined || !database.present.includes(db))
        checks.push(skipped(name, `skipped: ${database.why ?? `${db?.name ?? 'the database'} does not exist`}`));
      else checks.push(...(await guarded(name, 'see the message', () => checkMacros(setup, db, version, ratroot))));
    }
    checks.push(...(await guarded('backend', 'see the message', () => checkBackend(site))));
    checks.push(
      ...(await guarded('grid proxy', 'see the message', () => checkProxy(site, setup.config.notify.proxyWarnHours))),
    );
  }
  checks.push(...(await guarded('storage', `correct storage in ${site.file}`, () => checkStorage(site))));
  if (scope === 'all')
    checks.push(
      ...(await guarded('free disk', 'see the message', async () => checkFreeDisk(site, setup.minFreeBytes))),
    );
  return checks;
}

/**
 * Runs the checks in order: the database (server, credentials, databases, design documents, view
 * indexes, clock), then the site (its file, RAT set-up, macros, backend, storage, free disk). A check
 * that throws is a ✗ with its message; one that needs a database that is not there is skipped.
 * `site`: the site the caller has loaded already (enqueue), so its file is not checked again.
 */
export async function runDoctor(setup: DoctorSetup, scope: DoctorScope = 'all', site?: Site): Promise<Check[]> {
  // the site's checks run beside the database's; only the macros wait for the database's answer
  const database = databaseChecks(setup, scope);
  const [{ checks }, siteFound] = await Promise.all([
    database,
    siteChecks(
      setup,
      scope,
      database.then(
        ({ state }) => state,
        (): DatabaseState => ({ present: [], why: 'the database checks failed' }),
      ),
      site,
    ),
  ]);
  return [...checks, ...siteFound, ...(scope === 'all' ? notificationChecks(setup) : [])];
}

/** Where notifications go, when [notify] names anywhere; a sendmail that is not there is a ✗. */
function notificationChecks(setup: DoctorSetup): Check[] {
  const { notify } = setup.config;
  if (notify.sendmailMissing !== undefined)
    return [failed('notifications', notify.sendmailMissing, `install sendmail, or set [notify] sendmail to its path`)];
  const to = [
    ...(notify.webhook === undefined ? [] : [`webhook ${notify.webhook.shown}`]),
    ...(notify.mailTo.length === 0 ? [] : [`mail to ${notify.mailTo.join(', ')} through ${notify.sendmail}`]),
  ];
  return to.length === 0 ? [] : [passed('notifications', to.join('; '))];
}
