import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { runGasp } from './support/cli.js';
import { folderWith, problemsOf } from './support/files.js';

const SITE = 'backend = local\nstorage = file:///tmp/gasp-test-storage\n[rat]\n7.0.8 = CVMFS\n';

function configProblems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return problemsOf((file) => loadConfig(file, { env }), 'gasp.cfg', text);
}

describe('a malformed config file', () => {
  it.each([
    ['[couchdb]\nurl = htp:/x\n', 'FILE: [couchdb] url: "htp:/x" is not a URL (expected http(s)://host:port)'],
    [
      '[couchdb]\nurl = ftp://x\n',
      'FILE: [couchdb] url: "ftp://x" is not an http(s) URL (expected http(s)://host:port)',
    ],
    ['[couchdb]\nurl = nonsense\n', 'FILE: [couchdb] url: "nonsense" is not a URL (expected http(s)://host:port)'],
    [
      '[couchdb]\ndatabase = Data Production\n',
      'FILE: [couchdb] database: "Data Production" is not allowed (expected a CouchDB database name such as data-production)',
    ],
    [
      '[couchdb]\ntimeout = soon\n',
      'FILE: [couchdb] timeout: "soon" is not a number (expected seconds, more than 0 and at most 3600)',
    ],
    [
      '[couchdb]\npasword = x\n',
      'FILE: [couchdb] pasword: unknown key (expected one of: url, database, user, password_file, password_env, password, timeout)',
    ],
    ['[client]\nmode = mc\n', 'FILE: [client] mode: "mc" is not allowed (expected production | processing)'],
    [
      '[client]\nqueue = fifo\n',
      'FILE: [client] queue: "fifo" is not allowed (expected priority | runlevel | newfirst | serial)',
    ],
    ['[client]\ninterval = 0\n', 'FILE: [client] interval: "0" is not more than 0 (expected seconds, more than 0)'],
    [
      '[client]\nmax_claim = 2.5\n',
      'FILE: [client] max_claim: "2.5" is not a whole number (expected a whole number from 1 to 10000)',
    ],
    [
      '[logging]\nlevel = loud\n',
      'FILE: [logging] level: "loud" is not allowed (expected fatal | error | warn | info | debug | trace | silent)',
    ],
    [
      '[database]\nurl = http://x:1\n',
      'FILE: [database]: unknown (expected one of: [couchdb], [client], [logging], [coordination], [dashboard], [notify], [production], [grab], [processing])',
    ],
    [
      '[coordination]\nserialize = maybe\n',
      'FILE: [coordination] serialize: "maybe" is not yes or no (expected yes or no)',
    ],
    [
      '[coordination]\nheartbeat = 600\nstale = 300\n',
      'FILE: [coordination] stale: "300" is not more than heartbeat (600) (expected seconds, more than heartbeat: a live site would look dead between two heartbeats)',
    ],
    [
      '[couchdb]\nuser = u\npassword_env = NOT_SET_ANYWHERE\n',
      'FILE: [couchdb] password_env: $NOT_SET_ANYWHERE is not set (expected the password in that environment variable)',
    ],
    [
      '[couchdb]\npassword_env = PW\n',
      'FILE: [couchdb] user: is missing (expected a CouchDB user name to go with the password)',
    ],
  ])('%j is reported as one line naming file, section and key', (text, expected) => {
    expect(configProblems(text, { PW: 'x' })).toEqual([expected]);
  });

  it('reports every problem at once, one line each', () => {
    const problems = configProblems(
      '[couchdb]\nurl = htp:/x\ntimeout = -1\npassword_file = /nonexistent/pw\n[client]\nmode = mc\nqueue = fifo\n[logging]\nlevel = loud\n',
    );
    expect(problems).toHaveLength(7);
    expect(problems).toContain(
      'FILE: [couchdb] password_file: cannot read "/nonexistent/pw" (ENOENT) (expected a file holding the password)',
    );
    expect(problems.every((line) => line.startsWith('FILE: ['))).toBe(true);
  });

  it.each(['hunter2', 'hun/ter2', 'p@ss@word', 'secret word', 'a:b'])(
    'never shows a password written into the URL (%s)',
    (password) => {
      const problems = configProblems(`[couchdb]\nurl = http://admin:${password}@couch.example.org:5984\n`);
      expect(problems.join('\n')).not.toContain(password);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        /^FILE: \[couchdb\] url: "http:\/\/\*\*\*@couch\.example\.org:5984" (has a user or password in it|is not a URL)/,
      );
      const fromEnv = configProblems('', { GASP_COUCHDB_URL: `https://admin:${password}@couch.example.org` });
      expect(fromEnv.join('\n')).not.toContain(password);
    },
  );

  it('names the environment variable when the bad value came from one', () => {
    const problems = configProblems('[couchdb]\nurl = http://127.0.0.1:5984\n', { GASP_COUCHDB_URL: 'ftp://x' });
    expect(problems).toEqual([
      'FILE (with GASP_COUCHDB_URL): [couchdb] url: "ftp://x" is not an http(s) URL (expected http(s)://host:port)',
    ]);
  });

  it('names a missing file', () => {
    expect(() => loadConfig('/nonexistent/gasp.cfg')).toThrow(
      '/nonexistent/gasp.cfg: no such file (expected an ini file)',
    );
  });
});

describe('a valid config file', () => {
  it('fills defaults by mode and lets the environment override keys', () => {
    const dir = folderWith({ 'gasp.cfg': '[client]\nmode = processing\n' });
    const config = loadConfig(join(dir, 'gasp.cfg'), {
      env: { GASP_CLIENT_QUEUE: 'newfirst', GASP_COUCHDB_TIMEOUT: '2.5' },
    });
    expect(config.couchdb.database).toBe('data-processing');
    expect(config.couchdb.url.href).toBe('http://127.0.0.1:5984/');
    expect(config.couchdb.timeoutMs).toBe(2500);
    expect(config.client.queue).toBe('newfirst');
    expect(config.client.siteFile).toBe(join(dir, '..', 'sites', 'local.ini'));
  });

  it('reads [production] phases, internal-rate generators and [production.modes]', () => {
    const dir = folderWith({
      'gasp.cfg':
        '[production]\nphases = water, bismsb\ninternal_rate_generators = solar, alphan\n[production.modes]\nWater* = run\nScint*Po210 = run_number\n',
    });
    expect(loadConfig(join(dir, 'gasp.cfg'), { env: {} }).production).toEqual({
      phases: ['water', 'bismsb'],
      internalRateGenerators: ['solar', 'alphan'],
      modeOverrides: [
        { pattern: 'Water*', mode: 'run' },
        { pattern: 'Scint*Po210', mode: 'run_number' },
      ],
    });
    expect(configProblems('[production.modes]\nWater* = forever\n')).toEqual([
      'FILE: [production.modes] Water*: "forever" is not an event mode (expected run | run_number | time | number)',
    ]);
    expect(configProblems('[production]\nphases = water, ..\n')).toEqual([
      'FILE: [production] phases: "water, .." has "..", which is not a folder name (expected a comma list of folder names under mac/production)',
    ]);
  });

  it('reads [grab] prefer as storage element names in order, and refuses one that is not a name in one line', () => {
    const dir = folderWith({ 'gasp.cfg': '[grab]\nprefer = SFU-SE, RAL.SE, root://se.example.org:1094\n' });
    expect(loadConfig(join(dir, 'gasp.cfg'), { env: {} }).grab).toEqual({
      prefer: ['SFU-SE', 'RAL.SE', 'root://se.example.org:1094'],
    });
    expect(loadConfig(join(folderWith({ 'gasp.cfg': '' }), 'gasp.cfg'), { env: {} }).grab).toEqual({ prefer: [] });
    expect(configProblems('[grab]\nprefer = SFU-SE, RAL SE\n')).toEqual([
      'FILE: [grab] prefer: "SFU-SE, RAL SE" has "RAL SE", which is not a storage element name (expected a comma list of storage element names, such as SFU-SE, RAL-SE)',
    ]);
  });

  it('reads a password_file under ~/ from the home folder', () => {
    const home = folderWith({ pw: 'from-home\n' });
    const dir = folderWith({ 'gasp.cfg': '[couchdb]\nuser = u\npassword_file = ~/pw\n' });
    const previous = process.env.HOME;
    process.env.HOME = home;
    try {
      expect(loadConfig(join(dir, 'gasp.cfg'), { env: {} }).couchdb.password?.reveal()).toBe('from-home');
    } finally {
      process.env.HOME = previous;
    }
  });

  it('reads the password from password_file, and warns about a literal password', () => {
    const dir = folderWith({
      pw: 's3cret\n',
      'a.cfg': '[couchdb]\nuser = u\npassword_file = pw\n',
      'b.cfg': '[couchdb]\nuser = u\npassword = s3cret\n',
    });
    const fromFile = loadConfig(join(dir, 'a.cfg'), { env: {} });
    expect(fromFile.couchdb.password?.reveal()).toBe('s3cret');
    expect(fromFile.warnings).toEqual([]);
    const literal = loadConfig(join(dir, 'b.cfg'), { env: {} });
    expect(literal.couchdb.password?.reveal()).toBe('s3cret');
    expect(literal.warnings).toHaveLength(1);
    expect(JSON.stringify(literal)).not.toContain('s3cret');
  });
});

describe('gasp config check', () => {
  it('prints the resolved config with the password as *** and exits 0', async () => {
    const dir = folderWith({
      'site.ini': SITE,
      'gasp.cfg': '[couchdb]\nuser = shifter\npassword_env = GASP_TEST_PW\n[client]\nsite = site.ini\n',
    });
    const text = await runGasp(['config', 'check', join(dir, 'gasp.cfg')], { env: { GASP_TEST_PW: 'pa55word' } });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('***');
    expect(text.stdout).toContain('shifter');
    const json = await runGasp(['config', 'check', '--json', join(dir, 'gasp.cfg')], {
      env: { GASP_TEST_PW: 'pa55word' },
    });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).couchdb.password).toBe('***');
    expect(text.stdout + text.stderr + json.stdout + json.stderr).not.toContain('pa55word');
  });

  it('shows every section the config has, [coordination], [production] and [production.modes] too, passwords as ***', async () => {
    const cfg =
      '[couchdb]\nuser = u\npassword_env = GASP_TEST_PW\n[client]\nsite = site.ini\n[coordination]\nserialize = yes\nstale = 900\n[dashboard]\nuser = viewer\npassword_env = GASP_TEST_PW\n[production]\nphases = scint, bismsb\n[production.modes]\nWater* = run\nScint* = time\n[grab]\nprefer = SFU-SE, root://se.example.org:1094\n';
    const dir = folderWith({ 'site.ini': SITE, 'gasp.cfg': cfg });
    const result = await runGasp(['config', 'check', join(dir, 'gasp.cfg')], { env: { GASP_TEST_PW: 'pa55word' } });
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').map((line) => line.trim().replace(/\s+/g, ' '));
    expect(lines.filter((line) => line.startsWith('['))).toEqual([
      '[couchdb]',
      '[client]',
      '[logging]',
      '[coordination]',
      '[dashboard]',
      '[production]',
      '[production.modes]',
      '[grab]',
      '[notify]',
    ]);
    expect(lines).toEqual(
      expect.arrayContaining([
        'serialize yes',
        'heartbeat 600 s',
        'stale 900 s',
        'conflict_delay 60 s',
        'user viewer',
        'password ***',
        'phases scint, bismsb',
        'internal_rate_generators solar, reacibd',
        'Water* run',
        'Scint* time',
        'prefer SFU-SE, root://se.example.org:1094',
      ]),
    );
    expect(lines.indexOf('Water* run')).toBeLessThan(lines.indexOf('Scint* time'));
    expect(result.stdout + result.stderr).not.toContain('pa55word');
  });

  it('prints one line per problem, no stack trace, and exits 2', async () => {
    const dir = folderWith({ 'gasp.cfg': '[couchdb]\nurl = htp:/x\n[client]\nqueue = fifo\n' });
    const result = await runGasp(['config', 'check', join(dir, 'gasp.cfg')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      `${join(dir, 'gasp.cfg')}: [couchdb] url: "htp:/x" is not a URL (expected http(s)://host:port)`,
      `${join(dir, 'gasp.cfg')}: [client] queue: "fifo" is not allowed (expected priority | runlevel | newfirst | serial)`,
    ]);
  });

  it('checks the site file the config names', async () => {
    const dir = folderWith({
      'site.ini': 'backend = pbs\nstorage = file:///x\n[rat]\n7.0.8 = CVMFS\n',
      'gasp.cfg': '[client]\nsite = site.ini\n',
    });
    const result = await runGasp(['config', 'check', join(dir, 'gasp.cfg')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${join(dir, 'site.ini')}: backend: "pbs" is not allowed (expected local | slurm | condor | dirac | dry)`,
    );
  });
});
