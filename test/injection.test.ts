import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import { SlurmBackend } from '../src/backends/slurm.js';
import type { Backend } from '../src/backends/backend.js';
import type { Database } from '../src/db/database.js';
import type { JobDoc } from '../src/model/documents.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { runGasp } from './support/cli.js';
import { copyOfFixtureRelease } from './support/fixture.js';
import { context, databaseWithJobs, INFO, runUntilEnded } from './support/jobs.js';
import { NO_SLURM, slurmAvailable, slurmSite } from './support/slurm.js';

/** Values a shell, a submit file or a macro would read specially; each would create a PWNED file if run. */
const HOSTILE = [
  '$(touch PWNED-dollar)',
  '`touch PWNED-backtick`',
  'lower; touch PWNED-semicolon',
  `"double" 'single' && touch PWNED-and`,
  '$HOME ${PATH} | touch PWNED-pipe',
];

function filesUnder(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const pwned = (...folders: string[]) =>
  [...folders, process.cwd(), tmpdir()]
    .flatMap((folder) =>
      folder === tmpdir() ? readdirSync(folder).map((name) => join(folder, name)) : filesUnder(folder),
    )
    .filter((path) => basename(path).startsWith('PWNED'));

/** A request whose template values are hostile, submitted into a database with the fixture's information. */
async function hostileRequest(prefix: string): Promise<Database> {
  const db = await databaseWithJobs(1, prefix);
  const file = join(mkdtempSync(join(tmpdir(), 'gasp-injection-')), 'jobs.json');
  writeFileSync(
    file,
    JSON.stringify({
      rat_v: '7.0.8',
      label: 'hostile',
      modules: HOSTILE.map((value) => ({
        module: 'PartialPo210',
        n_ev: 10,
        ev_per_run: 10,
        template: { fill_volume: value },
      })),
    }),
  );
  await submitRequestFile(db, file);
  return db;
}

/** Runs cycles until every pass ended, then checks each hostile value reached its macro as plain text. */
async function runAll(db: Database, backend: Backend, workRoot: string, name: string): Promise<JobDoc[]> {
  // three jobs at a time: the Slurm of the tests has two cores and other test files use it too
  return runUntilEnded({ ...context(db, name, backend, 3), workRoot }, 300);
}

describe('hostile values', () => {
  it('pass through submit, the local backend and the wrapper as text: the macro holds them, nothing runs them', async () => {
    const db = await hostileRequest('inject-local');
    const dir = mkdtempSync(join(tmpdir(), 'gasp-injection-work-'));
    // the site's own folders with spaces and shell characters too
    const workRoot = join(dir, 'work dir $(touch PWNED-workdir) `x`');
    const all = await runAll(
      db,
      new LocalBackend({ stateDir: join(workRoot, '.local-backend'), maxJobs: 8 }),
      workRoot,
      'hostile-local',
    );
    const passes = all.flatMap((doc) => doc.passes);
    expect(passes.map((pass) => pass.status).filter((status) => status !== 'completed')).toEqual([]);
    const macros = filesUnder(workRoot)
      .filter((file) => file.endsWith('job.mac'))
      .map((file) => readFileSync(file, 'utf8'));
    for (const value of HOSTILE)
      expect(macros.some((text) => text.includes(`/generator/pos/set ${value}\n`))).toBe(true);
    expect(pwned(dir)).toEqual([]);
  }, 60_000);

  it('pass through the real Slurm as text', async ({ skip }) => {
    skip(!slurmAvailable, NO_SLURM);
    const db = await hostileRequest('inject-slurm');
    const dir = mkdtempSync(join(tmpdir(), 'gasp-injection-slurm-'));
    const workRoot = join(dir, 'work $(touch PWNED-slurm)');
    mkdirSync(workRoot, { recursive: true });
    // the Slurm site gives the batch settings; the client's site (RAT set-up, storage) is the fixture's
    const all = await runAll(db, new SlurmBackend(slurmSite()), workRoot, 'hostile-slurm');
    expect(all.flatMap((doc) => doc.passes).every((pass) => pass.status === 'completed')).toBe(true);
    expect(pwned(dir)).toEqual([]);
  }, 120_000);

  it('refuses a macro file name that would make a module name with shell characters, and a label with them', async () => {
    const release = copyOfFixtureRelease();
    writeFileSync(
      join(release, 'mac', 'production', 'partial', 'evil$(touch PWNED-module).mac'),
      readFileSync(join(release, 'mac', 'production', 'partial', 'po210.mac')),
    );
    const made = await runGasp(['make-production', release, '-o', join(release, 'info.json')]);
    expect(made.code).toBe(2);
    expect(made.stderr).toContain(
      `${join(release, 'mac', 'production', 'partial', 'evil$(touch PWNED-module).mac')}: gives the module name "PartialEvil$(touch PWNED-module)" (expected a file name of letters, digits, _ . + - only)`,
    );
    expect(existsSync(join(release, 'info.json'))).toBe(false);
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-injection-')), 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'x$(touch PWNED-label)',
        modules: [
          {
            module: 'PartialPo210',
            n_ev: 10,
            ev_per_run: 10,
            template: { fill_volume: 'lower\n/control/shell touch PWNED-macro' },
          },
        ],
      }),
    );
    const info = join(mkdtempSync(join(tmpdir(), 'gasp-injection-info-')), 'production_information_7_0_8.json');
    writeFileSync(info, JSON.stringify(INFO));
    const submitted = await runGasp(['submit', file, '--dry-run', '--production-info', info]);
    expect(submitted.code).toBe(2);
    expect(submitted.stderr).toMatch(/label: "x\$\(touch PWNED-label\)" .*expected a label of letters/);
    expect(submitted.stderr).toMatch(
      /template\.fill_volume: .* \(expected one line of text \(a line break would add a macro command\)\)/,
    );
    expect(pwned(release)).toEqual([]);
  });
});
