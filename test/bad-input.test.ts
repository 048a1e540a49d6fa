import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { runGasp } from './support/cli.js';
import { couchSection, useTestDatabase } from './support/couch.js';
import { folderWith } from './support/files.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { INFO } from './support/jobs.js';

const test = useTestDatabase('bad-input');

const SITE = `name = here\nbackend = dry\nstorage = file:///tmp/gasp-bad-input-storage\n[rat]\n7.0.8 = CVMFS\n`;
const JOBS = {
  rat_v: '7.0.8',
  label: 'bad',
  modules: [{ module: 'PartialPo210', n_ev: 10, ev_per_run: 10, template: { fill_volume: 'lower' } }],
};
const jobs = (change: (request: Record<string, unknown>) => unknown) =>
  JSON.stringify(change(structuredClone(JOBS) as unknown as Record<string, unknown>));
const runs = (text: string) => ({ 'runs.json': text });

/**
 * One bad input per row: the files in a fresh folder (the working directory), the command, and the
 * one line it must answer with. `gasp.cfg` (pointing at the test database) and `site.ini` are
 * written unless a row brings its own.
 */
const CASES: Array<{ what: string; files?: Record<string, string>; args: string[]; line: RegExp | string }> = [
  // config files
  {
    what: 'config: a URL that is not one',
    files: { 'gasp.cfg': '[couchdb]\nurl = htp:/x\n' },
    args: ['submit', 'jobs.json'],
    line: 'gasp.cfg: [couchdb] url: "htp:/x" is not a URL (expected http(s)://host:port)',
  },
  {
    what: 'config: max_claim not whole',
    files: { 'gasp.cfg': '[client]\nmax_claim = 2.5\n' },
    args: ['submit', 'jobs.json'],
    line: /^gasp\.cfg: \[client\] max_claim: "2\.5" is not a whole number/,
  },
  {
    what: 'config: stale not above heartbeat',
    files: { 'gasp.cfg': '[coordination]\nheartbeat = 60\nstale = 30\n' },
    args: ['enqueue', '--once'],
    line: /^gasp\.cfg: \[coordination\] stale: "30" is not more than heartbeat \(60\)/,
  },
  {
    what: 'config: serialize not yes or no',
    files: { 'gasp.cfg': '[coordination]\nserialize = maybe\n' },
    args: ['enqueue', '--once'],
    line: 'gasp.cfg: [coordination] serialize: "maybe" is not yes or no (expected yes or no)',
  },
  {
    what: 'config: a misspelt section',
    files: { 'gasp.cfg': '[couchbd]\nurl = http://x:1\n' },
    args: ['submit', 'jobs.json'],
    line: /^gasp\.cfg: \[couchbd\]: unknown \(expected one of: \[couchdb\]/,
  },
  {
    what: 'config: password variable not set',
    files: { 'gasp.cfg': '[couchdb]\nuser = u\npassword_env = GASP_TEST_UNSET_PASSWORD\n' },
    args: ['submit', 'jobs.json'],
    line: /password_env: \$GASP_TEST_UNSET_PASSWORD is not set/,
  },
  {
    what: 'config: a file that does not exist',
    args: ['submit', 'jobs.json', '-c', 'nowhere.cfg'],
    line: 'nowhere.cfg: no such file (expected an ini file)',
  },
  // site files
  {
    what: 'site: an unknown backend',
    files: { 'site.ini': SITE.replace('dry', 'pbs') },
    args: ['enqueue', '--once'],
    line: /site\.ini: backend: "pbs" is not allowed \(expected local \| slurm \| condor \| dirac \| dry\)$/,
  },
  {
    what: 'site: no storage',
    files: { 'site.ini': SITE.replace(/storage = .*\n/, '') },
    args: ['enqueue', '--once'],
    line: /site\.ini: storage: is missing/,
  },
  {
    what: 'site: max_jobs 0',
    files: {
      'site.ini': `${SITE}max_jobs = 0\n`.replace(
        '[rat]\n7.0.8 = CVMFS\nmax_jobs = 0\n',
        'max_jobs = 0\n[rat]\n7.0.8 = CVMFS\n',
      ),
    },
    args: ['enqueue', '--once'],
    line: /site\.ini: max_jobs: "0" is less than 1/,
  },
  {
    what: 'site: a fail fraction above 1',
    files: { 'site.ini': `${SITE}[dry]\nfail_calls = 2\n` },
    args: ['enqueue', '--once'],
    line: /site\.ini: \[dry\] fail_calls: "2" is not from 0 to 1/,
  },
  {
    what: 'site: a quarantine rule that is not n/m',
    files: { 'site.ini': `${SITE}[health]\nquarantine_after = 5/5\n` },
    args: ['enqueue', '--once'],
    line: /site\.ini: \[health\] quarantine_after: "5\/5" is not n\/m with n less than m, nor off/,
  },
  {
    what: 'timing: plots into a file',
    files: { plots: 'a file, not a folder' },
    args: ['timing', '--label', 'enq', '--plots', 'plots/sub'],
    line: '--plots: "plots/sub" cannot be made (ENOTDIR) (expected a folder this user can write into)',
  },
  {
    what: 'jobs.json: a policy max_attempts of 0',
    files: { 'jobs.json': jobs((request) => ({ ...request, policy: { max_attempts: 0 } })) },
    args: ['submit', 'jobs.json'],
    line: 'jobs.json: policy.max_attempts: 0 is not a whole number from 1 to 20',
  },
  {
    what: 'site: a relative env script',
    files: { 'site.ini': SITE.replace('7.0.8 = CVMFS', '7.0.8 = env/rat.sh') },
    args: ['enqueue', '--once'],
    line: /site\.ini: \[rat\] 7\.0\.8: "env\/rat\.sh"/,
  },
  {
    what: 'site: the file is missing',
    files: { 'gasp.cfg': '[client]\nsite = missing.ini\n' },
    args: ['enqueue', '--once'],
    line: /missing\.ini: no such file/,
  },
  {
    what: 'site: it does not run the mode asked for',
    files: { 'site.ini': SITE.replace('backend = dry', 'backend = dry\nmodes = processing') },
    args: ['enqueue', '--once', '--mode', 'production'],
    line: /site\.ini: modes: site here does not run production/,
  },
  // jobs.json
  {
    what: 'jobs.json: a syntax error',
    files: { 'jobs.json': '{"rat_v": "7.0.8",' },
    args: ['submit', 'jobs.json'],
    line: /^jobs\.json:1:19: a "name" was expected/,
  },
  {
    what: 'jobs.json: an unknown module',
    files: {
      'jobs.json': jobs((request) => ({ ...request, modules: [{ ...JOBS.modules[0], module: 'PartialPo211' }] })),
    },
    args: ['submit', 'jobs.json'],
    line: /^jobs\.json: modules\[0\]\.module: .*PartialPo211.*did you mean "PartialPo210"/,
  },
  {
    what: 'jobs.json: no events',
    files: { 'jobs.json': jobs((request) => ({ ...request, modules: [{ ...JOBS.modules[0], n_ev: 0 }] })) },
    args: ['submit', 'jobs.json'],
    line: /^jobs\.json: modules\[0\]\.n_ev: 0 is not allowed/,
  },
  {
    what: 'jobs.json: a key twice',
    files: { 'jobs.json': '{"rat_v": "7.0.8", "rat_v": "7.0.9", "label": "x", "modules": []}' },
    args: ['submit', 'jobs.json'],
    line: 'jobs.json:1:20: "rat_v" appears twice in one object (expected each key once)',
  },
  {
    what: 'jobs.json: a list, not a request',
    files: { 'jobs.json': '[]' },
    args: ['submit', 'jobs.json'],
    line: /^jobs\.json: .*(expected|is not)/,
  },
  {
    what: 'jobs.json: a misspelt key',
    files: { 'jobs.json': jobs((request) => ({ ...request, prioirty: 3 })) },
    args: ['submit', 'jobs.json'],
    line: 'jobs.json: prioirty: unknown key (expected rat_v, label, modules, policy)',
  },
  {
    what: 'jobs.json: a RAT version with no production information',
    files: { 'jobs.json': jobs((request) => ({ ...request, rat_v: '9.9.9' })) },
    args: ['submit', 'jobs.json'],
    line: /9\.9\.9/,
  },
  { what: 'jobs.json: missing', args: ['submit', 'absent.json'], line: /^absent\.json: no such file/ },
  // run lists and run files
  {
    what: 'run list: a line that is not a run number',
    files: {
      'runs.txt': '100\nhundred\n',
      'jobs.json': JSON.stringify({ rat_v: '7.0.8', label: 'bad', modules: [{ module: 'WaterRunByRun', n_runs: 1 }] }),
    },
    args: ['submit', 'jobs.json', '-L', 'runs.txt'],
    line: /runs\.txt:2: .*hundred/,
  },
  { what: 'run list: missing', args: ['submit', 'jobs.json', '-L', 'absent.txt'], line: /absent\.txt: no such file/ },
  {
    what: 'runs file: a run without subfiles',
    files: runs(JSON.stringify([{ run: 5, run_type: 'Physics', subfiles: [] }])),
    args: ['runs', 'add', 'runs.json'],
    line: 'runs.json: [0].subfiles: [] is not allowed (expected at least one raw subfile)',
  },
  {
    what: 'runs file: not JSON',
    files: runs('run 5 Physics'),
    args: ['runs', 'add', 'runs.json'],
    line: /^runs\.json:1:1: a character JSON does not allow/,
  },
  // release folders
  { what: 'release: no such folder', args: ['make-production', 'no-release', '--upload'], line: /no-release: / },
  {
    what: 'release: a folder without macros',
    files: { VERSION: '7.0.8\n' },
    args: ['make-production', '.', '--upload'],
    line: /mac\/production/,
  },
  {
    what: 'release: a version that is not x.y.z',
    args: ['make-production', FIXTURE_RELEASE, '--version', 'seven', '--upload'],
    line: /--version: "seven"/,
  },
  // command-line options
  {
    what: 'option: an unknown queue order',
    args: ['enqueue', '--queue', 'fifo'],
    line: '--queue: "fifo" is not a queue order (expected priority | runlevel | newfirst | serial)',
  },
  {
    what: 'option: interval 0',
    args: ['enqueue', '--interval', '0'],
    line: '--interval: "0" is not a number more than 0',
  },
  {
    what: 'option: a lock name with a space',
    args: ['lock-run', '--name', 'two words', '--', 'true'],
    line: /^--name: "two words" is not a lock name/,
  },
  {
    what: 'option: a negative wait',
    args: ['lock-run', '--wait', '-1', '--', 'true'],
    line: /^--wait: "-1" is not a number more than 0/,
  },
  {
    what: 'option: a priority that is not a number',
    args: ['submit', 'jobs.json', '--priority', 'high'],
    line: /^--priority: "high"/,
  },
  {
    what: 'option: a label no pass has',
    args: ['exactly', '--label', 'nosuch'],
    line: /^--label: no pass has label "nosuch" in t-bad-input-\w+$/,
  },
  {
    what: 'option: a data type that does not exist',
    args: ['grab', '--exactly', 'none.exactly', '--type', 'ntupel'],
    files: { 'none.exactly': '' },
    line: '--type: "ntupel" is not a data type (did you mean "ntuple"?)',
  },
  {
    what: 'option: a label with a slash',
    args: ['submit', 'jobs.json', '--label', 'a/b'],
    line: '--label: "a/b" is not a label (expected letters, digits, _ . + -)',
  },
  { what: 'option: a port out of range', args: ['serve', '--port', '99999', '--dir', 'db'], line: /port.*99999/ },
];

describe('bad input', () => {
  let seq: () => Promise<unknown>;
  beforeAll(async () => {
    await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
    await test.db.put(INFO);
    seq = async () => (await test.db.info()).update_seq;
  });

  it('has at least 30 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  it.each(CASES)(
    '$what: one line naming what and where, exit 2, the database unchanged',
    async ({ files, args, line }) => {
      const dir = folderWith({
        'gasp.cfg': `${couchSection(test.db.name)}[client]\nsite = site.ini\n`,
        'site.ini': SITE,
        'jobs.json': JSON.stringify(JOBS),
        ...files,
      });
      const before = await seq();
      // the folder's config, right after the command's name (before any `--`), unless the row names one
      const leaf = args[0] === 'runs' ? 2 : 1;
      const withConfig =
        args[0] === 'serve' || args.includes('-c')
          ? args
          : [...args.slice(0, leaf), '-c', 'gasp.cfg', ...args.slice(leaf)];
      const result = await runGasp(withConfig, { cwd: dir });
      const lines = result.stderr
        .trim()
        .split('\n')
        .map((text) => text.replace(`${dir}/`, ''));
      expect({ code: result.code, lines }).toMatchObject({
        code: 2,
        lines: [typeof line === 'string' ? line : expect.stringMatching(line)],
      });
      expect(await seq()).toEqual(before);
    },
  );
});
