import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Couch } from '../src/db/couch.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { Database } from '../src/db/database.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { freePort } from '../src/server/ports.js';
import { runGasp } from './support/cli.js';
import { couchSection, testCouch, uniqueName } from './support/couch.js';
import { folderWith } from './support/files.js';
import { copyOfFixtureRelease, FIXTURE_RELEASE } from './support/fixture.js';
import { INFO } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const GOOD_SCRIPT = join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh');

/** A site folder: a local site with file storage, the given env script, and a config naming `couch`. */
function siteFolder(
  couch: string,
  envScript: string,
  storage?: string,
  backend = 'local',
): { dir: string; config: string } {
  const dir = folderWith({});
  const store = storage ?? `file://${dir}/storage`;
  writeFileSync(
    join(dir, 'site.ini'),
    `name = doc-site\nbackend = ${backend}\nmax_jobs = 2\nstorage = ${store}\n[rat]\n7.0.8 = ${envScript}\n[local]\nworkdir = ${dir}/jobs\n[slurm]\npartition = debug\n`,
  );
  writeFileSync(join(dir, 'gasp.cfg'), `${couch}[client]\nsite = site.ini\ninterval = 1\n`);
  return { dir, config: join(dir, 'gasp.cfg') };
}

/** An env script that sets RATROOT without exporting it: the wrapper's rat finds no release. */
function brokenScript(): string {
  const dir = folderWith({});
  const script = join(dir, 'env_rat-7.0.8.sh');
  writeFileSync(script, `RATROOT=${FIXTURE_RELEASE}\nexport PATH="$RATROOT/bin:$PATH"\n`);
  return script;
}

const lines = (text: string) => text.trim().split('\n');

describe('gasp doctor', () => {
  let db: Database;

  beforeAll(async () => {
    db = testCouch().use(uniqueName('doctor'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(INFO);
  });

  it('on a good site (views pushed, production information uploaded, the fixture release) is all ✓ and exits 0', async () => {
    const { config } = siteFolder(couchSection(db.name), GOOD_SCRIPT);
    const result = await runGasp(['doctor', '-c', config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const shown = lines(result.stdout);
    expect(shown.map((line) => line.split(':')[0])).toEqual([
      '✓ database',
      '✓ credentials',
      '✓ databases',
      '✓ design documents',
      '✓ view indexes',
      '✓ server clock',
      '✓ site file',
      '✓ RAT 7.0.8',
      '✓ macros 7.0.8',
      '✓ backend',
      '✓ grid proxy',
      '✓ storage',
      '✓ free disk',
      'doctor',
    ]);
    expect(shown.at(-1)).toBe('doctor: 13 checks, 0 problems');
    expect(result.stdout).toContain('✓ grid proxy: none needed (proxy = none in');
    // PouchDB Server does not say how far its indexes are: unknown, not a problem
    expect(result.stdout).toContain(`✓ view indexes: ${db.name}: unknown`);
    expect(result.stdout).toContain(
      `✓ macros 7.0.8: 7 macros under ${FIXTURE_RELEASE} match the production information`,
    );
    const json = await runGasp(['doctor', '-c', config, '--json']);
    const checks = JSON.parse(json.stdout) as Array<{ name: string; ok: boolean; detail: string }>;
    expect(checks).toHaveLength(13);
    expect(checks.every((check) => check.ok)).toBe(true);
  });

  it('names a grid proxy that expires before a job would end, or soon, with the command that renews it', async () => {
    const { dir, config } = siteFolder(couchSection(db.name), GOOD_SCRIPT);
    writeFileSync(join(dir, 'site.ini'), `proxy = voms\n${readFileSync(join(dir, 'site.ini'), 'utf8')}`);
    // a stand-in voms-proxy-info: VOMS clients 3 print the seconds left
    const bin = folderWith({});
    const proxy = (seconds: number) =>
      writeFileSync(join(bin, 'voms-proxy-info'), `#!/bin/sh\necho ${seconds}\n`, { mode: 0o755 });
    const doctor = async () => {
      const result = await runGasp(['doctor', '-c', config], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
      return {
        code: result.code,
        lines: lines(result.stdout).filter((line) => line.includes('grid proxy') || line.startsWith('  fix: voms')),
      };
    };
    proxy(36_000);
    expect(await doctor()).toEqual({
      code: 1,
      lines: [
        '✗ grid proxy: voms: 10.0 h left, less than a job may need (24.0 h): gasp enqueue claims nothing',
        '  fix: voms-proxy-init --voms snoplus.snolab.ca',
      ],
    });
    proxy(30 * 3600);
    expect(await doctor()).toEqual({
      code: 1,
      lines: [
        '✗ grid proxy: voms: 30.0 h left, below [notify] proxy_warn_hours (48 h)',
        '  fix: voms-proxy-init --voms snoplus.snolab.ca',
      ],
    });
    proxy(72 * 3600);
    expect(await doctor()).toEqual({ code: 0, lines: ['✓ grid proxy: voms: 72.0 h left'] });
  });

  it('names a broken env script, a missing macro and design documents not pushed, each with its fix, and exits 1', async () => {
    const fresh = testCouch().use(uniqueName('doctor-bare'));
    await fresh.create();
    await fresh.put(INFO);
    const release = copyOfFixtureRelease();
    rmSync(join(release, 'mac/production/partial/po210.mac'));
    const missing = siteFolder(couchSection(fresh.name), join(release, 'env_rat-7.0.8.sh'));
    const result = await runGasp(['doctor', '-c', missing.config]);
    expect(result.code).toBe(1);
    const shown = lines(result.stdout);
    const after = (start: string) => shown[shown.findIndex((line) => line.startsWith(start)) + 1];
    expect(shown).toContainEqual(
      `✗ macros 7.0.8: 1 of 7 macros: missing under ${release}: mac/production/partial/po210.mac`,
    );
    expect(after('✗ macros 7.0.8')).toBe(
      `  fix: set up the release the information was made from, or make it again from this one: gasp make-production ${release} -c ${missing.config} --upload`,
    );
    expect(shown.find((line) => line.startsWith('✗ design documents'))).toMatch(/_design\/\w+ would be created/);
    expect(after('✗ design documents')).toBe(`  fix: gasp views push -c ${missing.config}`);
    expect(shown.at(-1)).toBe('doctor: 13 checks, 2 problems');

    const broken = siteFolder(couchSection(db.name), brokenScript());
    const second = await runGasp(['doctor', '-c', broken.config]);
    expect(second.code).toBe(1);
    const again = lines(second.stdout);
    expect(again.find((line) => line.startsWith('✗ RAT 7.0.8'))).toContain(
      'sourcing it sets no RATROOT (expected the env script to export RATROOT)',
    );
    expect(again[again.findIndex((line) => line.startsWith('✗ RAT 7.0.8')) + 1]).toMatch(
      /^ {2}fix: make the set-up of 7\.0\.8 in .*site\.ini export RATROOT and put rat on PATH/,
    );
    // no RATROOT, so no macros to look at: skipped, not ✓
    expect(again).toContainEqual('- macros 7.0.8: skipped: no RATROOT from its set-up here');
    expect(again.at(-1)).toBe('doctor: 13 checks, 1 problem');
  });

  it('with a stopped database names it and its fix, skips what needs it (not ✓), still checks the site, and exits 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { config } = siteFolder(`[couchdb]\nurl = ${url}\ndatabase = data-production\n`, GOOD_SCRIPT);
    const result = await runGasp(['doctor', '-c', config]);
    expect(result.code).toBe(1);
    const shown = lines(result.stdout);
    expect(shown[0]).toMatch(new RegExp(`^✗ database: ${url} does not answer \\(.*ECONNREFUSED`));
    expect(shown[1]).toBe(
      `  fix: start the database (gasp serve, or ask its admin), or correct [couchdb] url in ${config}`,
    );
    expect(shown.filter((line) => line.startsWith('- '))).toEqual([
      '- databases: skipped: the database does not answer',
      '- design documents: skipped: the database does not answer',
      '- view indexes: skipped: the database does not answer',
      '- server clock: skipped: the database does not answer',
      '- macros 7.0.8: skipped: the database does not answer',
    ]);
    expect(shown).toContainEqual(expect.stringMatching(/^✓ RAT 7\.0\.8: RATROOT /));
    expect(shown.at(-1)).toBe('doctor: 12 checks, 1 problem');
  });
});

describe('gasp doctor of a batch system', () => {
  it("asks the backend's command: a missing one and one that answers", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const couch = `[couchdb]\nurl = ${url}\ndatabase = data-production\n`;
    const condor = siteFolder(couch, GOOD_SCRIPT, undefined, 'condor');
    const missing = lines((await runGasp(['doctor', '-c', condor.config], { env: { PATH: '/usr/bin:/bin' } })).stdout);
    const at = missing.findIndex((line) => line.startsWith('✗ backend'));
    expect(missing.slice(at, at + 2)).toEqual([
      '✗ backend: condor: condor_status: command not found (is it installed and on PATH here?)',
      '  fix: run gasp where HTCondor is installed and its collector answers (condor_status)',
    ]);
    // a Slurm whose controller answers: an sinfo that knows the site's partition
    const slurm = siteFolder(couch, GOOD_SCRIPT, undefined, 'slurm');
    writeFileSync(join(slurm.dir, 'sinfo'), '#!/bin/sh\necho "debug*"\n', { mode: 0o755 });
    const answered = await runGasp(['doctor', '-c', slurm.config], {
      env: { PATH: `${slurm.dir}:${process.env.PATH ?? ''}` },
    });
    expect(lines(answered.stdout)).toContainEqual('✓ backend: slurm: sinfo -h -o %P -p debug answers');
  });
});

describe('gasp doctor with storage on an XRootD SE', () => {
  const se = needsXrootd();

  it("writes a probe, finds the SE's adler32 of it equal to ours, and removes it", async () => {
    const db = testCouch().use(uniqueName('doctor-se'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    const folder = `/doctor-${process.pid}`;
    const { config } = siteFolder(couchSection(db.name), GOOD_SCRIPT, `${se.url}/${folder}`);
    const result = await runGasp(['doctor', '-c', config]);
    expect(result.stdout).toMatch(/^✓ storage: root:\/\/.*: writable, adler32 [0-9a-f]{8} as ours/m);
    // the probe is gone: the folder the SE made for it holds nothing
    const onSe = join(se.data, folder);
    expect(existsSync(onSe) ? readdirSync(onSe) : []).toEqual([]);
    await db.destroy();
  });
});

describe('gasp enqueue checks at start', () => {
  it('refuses to start with a broken env script, in one line, exit 1; starts with --force', async () => {
    const db = testCouch().use(uniqueName('doctor-enqueue'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    const { config } = siteFolder(couchSection(db.name), brokenScript());
    const refused = await runGasp(['enqueue', '-c', config, '--once']);
    expect(refused.code).toBe(1);
    expect(lines(refused.stderr)).toEqual([
      expect.stringMatching(
        /^enqueue not started: RAT 7\.0\.8: sourcing it sets no RATROOT .*\(fix: make the set-up of 7\.0\.8 .*; --force starts anyway\)$/,
      ),
    ]);
    const forced = await runGasp(['enqueue', '-c', config, '--once', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/cycle 1: claimed 0/);
  });

  it('starts while its storage element does not answer, saying it waits for it', async () => {
    const db = testCouch().use(uniqueName('doctor-se-down'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    const { config } = siteFolder(couchSection(db.name), GOOD_SCRIPT, 'root://127.0.0.1:1//snoplus');
    const started = await runGasp(['enqueue', '-c', config, '--once']);
    expect(started.code).toBe(0);
    expect(started.stderr).toMatch(/storage: root:\/\/127\.0\.0\.1:1\/\/snoplus: .*; enqueue waits for it/);
    expect(started.stderr).toMatch(/cycle 1: claimed 0/);
  }, 90_000);
});

describe('gasp doctor on a server with an admin', () => {
  // its own server: giving PouchDB Server an admin ends its "admin party" for every database on it
  const user = 'doctoradmin';
  const password = `Pw-${randomBytes(6).toString('hex')}`;
  let server: EmbeddedServer;

  beforeAll(async () => {
    server = await EmbeddedServer.start({ dir: mkdtempSync(join(tmpdir(), 'gasp-doctor-db-')) });
    await new Couch({ url: server.url }).request({ method: 'PUT', path: `_config/admins/${user}`, body: password });
  }, 60_000);

  afterAll(async () => {
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  });

  it('names a refused password 401 unauthorized with its fix, skips what needs the database, and never prints the password', async () => {
    const couch = `[couchdb]\nurl = ${server.url}\ndatabase = data-production\nuser = ${user}\npassword_env = GASP_DOCTOR_SECRET\n`;
    const { config } = siteFolder(couch, GOOD_SCRIPT);
    const refused = await runGasp(['doctor', '-c', config], { env: { GASP_DOCTOR_SECRET: `${password}x` } });
    expect(refused.code).toBe(1);
    const shown = lines(refused.stdout);
    expect(shown.slice(0, 4)).toEqual([
      `✓ database: ${server.url.origin} answers`,
      `✗ credentials: 401 unauthorized: ${server.url.origin} refuses user ${user}`,
      `  fix: correct [couchdb] user and password_file (or password_env) in ${config}`,
      '- databases: skipped: the database refuses our credentials',
    ]);
    const accepted = await runGasp(['doctor', '-c', config], { env: { GASP_DOCTOR_SECRET: password } });
    expect(lines(accepted.stdout)[1]).toBe(`✓ credentials: user ${user} accepted`);
    for (const result of [refused, accepted]) expect(result.stdout + result.stderr).not.toContain(password);
  });
});
