import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Couch } from '../src/db/couch.js';
import { Secret } from '../src/secret.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { runGasp, type CliResult } from './support/cli.js';
import { folderWith } from './support/files.js';
import { FIXTURE_RELEASE } from './support/fixture.js';

// its own server: giving PouchDB Server an admin ends its "admin party" for every database on it
const USER = 'gaspadmin';
const PASSWORD = `Pw-${randomBytes(6).toString('hex')}`;
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
let server: EmbeddedServer;
let dir: string;

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

beforeAll(async () => {
  server = await EmbeddedServer.start({ dir: mkdtempSync(join(tmpdir(), 'gasp-secrets-db-')) });
  await new Couch({ url: server.url }).request({ method: 'PUT', path: `_config/admins/${USER}`, body: PASSWORD });
  const site = `name = vault\nbackend = dry\nstorage = file:///tmp/gasp-secrets-storage\n[rat]\n7.0.8 = CVMFS\n`;
  const config = `[couchdb]\nurl = ${server.url}\ndatabase = data-production\nuser = ${USER}\npassword_env = GASP_TEST_SECRET\n[client]\nsite = vault.ini\n`;
  const jobs = JSON.stringify({
    rat_v: '7.0.8',
    label: 'vault',
    modules: [{ module: 'PartialPo210', n_ev: 20, ev_per_run: 10, template: { fill_volume: 'lower' } }],
  });
  const runs = JSON.stringify([
    { run: 7, run_type: 'Physics', subfiles: [{ name: 'r7_0.zdab', size: 1, checksum: 'adler32:1' }] },
  ]);
  dir = folderWith({
    'gasp.cfg': config,
    'vault.ini': site,
    'jobs.json': jobs,
    'runs.json': runs,
    'wrong.cfg': config.replace(server.url.port, '1'),
  });
}, 60_000);

afterAll(async () => {
  await server.stop();
  // its data-production goes with the server's folder
  for (const folder of [dir, server.dir]) rmSync(folder, { recursive: true, force: true });
});

describe('with a password set', () => {
  it('never shows it: in the output, logs and errors of every command, their --help, the documents and the files they write', async () => {
    const env = { GASP_TEST_SECRET: PASSWORD, GASP_LOGGING_LEVEL: 'debug' };
    const run = (args: string[]) => runGasp(args, { cwd: dir, env });
    const results: Array<{ args: string[]; result: CliResult }> = [];
    const commands = [
      ['views', 'push', '-c', 'gasp.cfg', '--create', '--wait'],
      ['config', 'check', '-c', 'gasp.cfg'],
      ['make-production', FIXTURE_RELEASE, '-c', 'gasp.cfg', '--upload'],
      ['processing-info', 'upload', join(FIXTURE_RELEASE, 'processing_information_7_0_8.json'), '-c', 'gasp.cfg'],
      ['production-info', 'list', '-c', 'gasp.cfg'],
      ['submit', 'jobs.json', '-c', 'gasp.cfg'],
      ['exactly', '--label', 'vault', '-c', 'gasp.cfg'],
      ['runs', 'add', 'runs.json', '-c', 'gasp.cfg'],
      ['process', '-R', '7', '--rat', '7.0.8', '-c', 'gasp.cfg', '--dry-run'],
      ['enqueue', '--once', '-c', 'gasp.cfg'],
      ['sites', 'status', '-c', 'gasp.cfg'],
      ['lock-run', '-c', 'gasp.cfg', '--', 'true'],
      ['summary', '--label', 'vault', '-c', 'gasp.cfg'],
      ['why', '--label', 'vault', '-c', 'gasp.cfg'],
      ['policy', '--label', 'vault', '--retry-on', 'Connection timed out', '-c', 'gasp.cfg'],
      ['grab', '--label', 'vault', '-d', 'grabbed', '-c', 'gasp.cfg'],
      ['timing', '--label', 'vault', '-c', 'gasp.cfg'],
      ['show', 'NoSuchModule', '1', '-c', 'gasp.cfg'],
      ['migrate', '--yes', '-c', 'gasp.cfg'],
      ['audit', '-c', 'gasp.cfg'],
      // the same with a server that does not answer, and with a password the server refuses
      ['submit', 'jobs.json', '-c', 'wrong.cfg'],
      ['enqueue', '--once', '-c', 'gasp.cfg', '--log-level', 'debug'],
    ];
    for (const args of commands) results.push({ args, result: await run(args) });
    results.push({
      args: ['refused'],
      result: await runGasp(['sites', 'status', '-c', 'gasp.cfg'], {
        cwd: dir,
        env: { GASP_TEST_SECRET: `${PASSWORD}x` },
      }),
    });
    const help = await run(['--help']);
    const names = [...help.stdout.matchAll(/^ {2}([a-z-]+) /gm)]
      .map((match) => match[1] ?? '')
      .filter((name) => name !== 'help');
    // four at a time: each is a fresh node process
    for (let start = 0; start < names.length; start += 4)
      results.push(
        ...(await Promise.all(
          names
            .slice(start, start + 4)
            .map(async (name) => ({ args: [name, '--help'], result: await run([name, '--help']) })),
        )),
      );

    // the commands did their work: the scan is not of empty output
    expect(results.find(({ args }) => args[0] === 'submit')?.result.code).toBe(0);
    expect(results.find(({ args }) => args[0] === 'enqueue')?.result.stderr).toMatch(/cycle 1: claimed 2, submitted 2/);
    expect(results.find(({ args }) => args[0] === 'refused')?.result.code).not.toBe(0);
    expect(names.length).toBeGreaterThanOrEqual(12);

    const leaks = results.filter(({ result }) =>
      [result.stdout, result.stderr].some((text) => text.includes(PASSWORD) || text.includes(BASIC)),
    );
    expect(leaks.map(({ args }) => args.join(' '))).toEqual([]);
    const db = new Couch({ url: server.url, user: USER, password: new Secret(PASSWORD) }).use('data-production');
    const documents = JSON.stringify(await db.allDocs({ include_docs: true }));
    expect(documents).toContain('vault');
    expect(documents).not.toContain(PASSWORD);
    const written = filesUnder(dir).filter((file) => readFileSync(file, 'utf8').includes(PASSWORD));
    expect(written).toEqual([]);
  }, 120_000);
});
