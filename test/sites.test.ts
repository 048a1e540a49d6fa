import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { checkRatVersions } from '../src/sites/check.js';
import { canRun, ratSetupLine } from '../src/sites/rat.js';
import { loadSite, loadSites } from '../src/sites/site.js';
import { runGasp } from './support/cli.js';
import { folderWith, problemsOf } from './support/files.js';

const GOOD = 'name = t\nbackend = slurm\nstorage = file:///data/out\n[rat]\n7.0.8 = CVMFS\n';

const siteProblems = (text: string): string[] => problemsOf(loadSite, 'site.ini', text);

describe('a malformed site file', () => {
  it.each([
    [
      'backend = pbs\nstorage = file:///x\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: backend: "pbs" is not allowed (expected local | slurm | condor | dirac | dry)',
    ],
    [
      'storage = file:///x\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: backend: is missing (expected local | slurm | condor | dirac | dry)',
    ],
    [
      'backend = local\nstorage = file:///x\nmax_jobs = many\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: max_jobs: "many" is not a whole number (expected a whole number from 1 to 100000)',
    ],
    [
      'backend = local\nstorage = file:///x\nmodes = production, mc\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: modes: "production, mc" has "mc", which is not allowed (expected a comma list of production, processing)',
    ],
    [
      'backend = local\nstorage = /data\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: storage: "/data" is neither a file:// or root:// URL nor a command with {src} and {dest} (expected a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest})',
    ],
    [
      'backend = local\nstorage = root://se.example.org:1094\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: storage: "root://se.example.org:1094" names no path on the storage element after its host (expected a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest})',
    ],
    [
      'backend = local\nstorage = root://se.example.org//snoplus\nstorage_tool = srm\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: storage_tool: "srm" is not allowed (expected xrootd (xrdcp, xrdfs) or gfal (gfal-copy, gfal-sum) for root:// storage)',
    ],
    [
      'backend = local\nstorage = file:///x\n',
      'FILE: [rat]: is missing (expected a [rat] section listing the RAT versions this site has)',
    ],
    [
      'backend = local\nstorage = file:///x\nrat = 7.0.8\n',
      'FILE: [rat]: is a value, not a section (expected a [rat] section listing the RAT versions this site has)',
    ],
    [
      'backend = local\nstorage = file://data/out\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: storage: "file://data/out" has a host name where the folder should start; file:///folder takes three slashes (expected a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest})',
    ],
    [
      'backend = local\nstorage = gfal-copy "{src}" {dest}\n[rat]\n7.0.8 = CVMFS\n',
      'FILE: storage: "gfal-copy \\"{src}\\" {dest}" has quotes or backslashes, but it is split on spaces and never run by a shell (expected a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest})',
    ],
    [
      'backend = local\nstorage = file:///x\n[rat]\ncvmfs = /cvmfs/x\n',
      'FILE: [rat]: lists no RAT version (expected at least one line such as 7.0.8 = CVMFS)',
    ],
    [
      'backend = local\nstorage = file:///x\n[rat]\n7.0.8 = env.sh\n',
      'FILE: [rat] 7.0.8: "env.sh" is neither CVMFS nor an absolute path (expected CVMFS or the absolute path of an env script)',
    ],
    [
      'backend = local\nstorage = file:///x\n[rat]\nlatest = CVMFS\n',
      'FILE: [rat] latest: unknown key (expected setup, cvmfs, a RAT version such as 7.0.8 = CVMFS or = /path/to/env.sh, or setup.<version>)',
    ],
    [
      'backend = local\nstorage = file:///x\n[rat]\n7.0.8 = CVMFS\nsetup = source {root}/env.sh\n',
      'FILE: [rat] setup: "source {root}/env.sh" uses {root}, which is not known (expected a set-up line using {cvmfs}, {version}, {script})',
    ],
    [
      'backend = local\nstorage = file:///x\n[rat]\n7.0.8 = CVMFS\nsetup.7.0.9 = source x\n',
      'FILE: [rat] setup.7.0.9: overrides RAT 7.0.9, which [rat] does not list (expected 7.0.9 = CVMFS or a path too)',
    ],
    [
      `${GOOD}[slurm]\ntime = forever\n`,
      'FILE: [slurm] time: "forever" is not allowed (expected a Slurm time limit such as 12:00:00 or 1-00:00:00)',
    ],
    [
      `${GOOD}[slurm]\nnodes = 4\n`,
      'FILE: [slurm] nodes: unknown key (expected one of: partition, account, qos, time, mem)',
    ],
    [
      `${GOOD}[condor]\nuniverse = grid\n`,
      'FILE: [condor] universe: "grid" is not allowed (expected vanilla | docker | container)',
    ],
    [
      `${GOOD}[dirac]\ncpu_time = -5\n`,
      'FILE: [dirac] cpu_time: "-5" is not more than 0 (expected seconds of CPU time, more than 0)',
    ],
    [
      `${GOOD}[pbs]\nqueue = long\n`,
      'FILE: [pbs]: unknown (expected one of: name, backend, max_jobs, modes, storage, storage_tool, proxy, se, [rat], [local], [slurm], [condor], [dirac], [health], [dry])',
    ],
  ])('%j is reported as one line naming file, section and key', (text, expected) => {
    expect(siteProblems(text)).toEqual([expected]);
  });

  it('reports the other problems of a file that also lacks [rat]', () => {
    expect(siteProblems('backend = pbs\nstorage = /x\nmax_jobs = -1\n')).toHaveLength(4);
  });

  it('lists every problem of every file in a folder, and duplicate site names', () => {
    const dir = folderWith({
      'a.ini': GOOD,
      'b.ini': GOOD,
      'c.ini': 'backend = pbs\nstorage = /x\n[rat]\n7.0.8 = CVMFS\n',
    });
    expect(() => loadSites(dir)).toThrow(InputError);
    try {
      loadSites(dir);
    } catch (error) {
      const problems = (error as InputError).problems;
      expect(problems).toHaveLength(3);
      expect(problems[2]).toBe(
        `${join(dir, 'b.ini')}: name: "t" is also the name of ${join(dir, 'a.ini')} (expected each site to have its own name)`,
      );
    }
  });
});

describe('the RAT versions of a site', () => {
  const dir = folderWith({
    'site.ini': [
      'backend = local',
      'storage = file:///x',
      '[rat]',
      'cvmfs = /cvmfs/snoplus.egi.eu',
      '7.0.8 = CVMFS',
      '7.0.9 = CVMFS',
      'setup.7.0.9 = source {cvmfs}/sw/{version}/env_rat-{version}-patched.sh',
      "6.18.9 = /home/rat/my env $(rm -rf ~)'s.sh",
    ].join('\n'),
  });
  const site = loadSite(join(dir, 'site.ini'));

  it('sets up a CVMFS version with the default line', () => {
    expect(ratSetupLine(site.rat, '7.0.8')).toBe('source /cvmfs/snoplus.egi.eu/sw/7.0.8/env_rat-7.0.8.sh');
  });

  it('lets one version override the set-up line', () => {
    expect(ratSetupLine(site.rat, '7.0.9')).toBe('source /cvmfs/snoplus.egi.eu/sw/7.0.9/env_rat-7.0.9-patched.sh');
  });

  it('quotes an env script path so the shell runs nothing in it', () => {
    expect(ratSetupLine(site.rat, '6.18.9')).toBe(`source '/home/rat/my env $(rm -rf ~)'\\''s.sh'`);
  });

  it('never offers a version the site does not list', () => {
    expect(canRun(site.rat, '7.0.8')).toBe(true);
    expect(canRun(site.rat, '7.1.0')).toBe(false);
    expect(ratSetupLine(site.rat, '7.1.0')).toBeUndefined();
  });
});

describe('gasp sites check', () => {
  it('lists the bundled example sites with backend and RAT versions', async () => {
    const result = await runGasp(['sites', 'check', 'sites', '--json']);
    expect(result.code).toBe(0);
    const sites = JSON.parse(result.stdout) as Array<{ name: string; backend: string; rat_versions: string[] }>;
    expect(sites.map((site) => site.backend).sort()).toEqual(['condor', 'dirac', 'local', 'slurm']);
    expect(sites.find((site) => site.backend === 'local')?.rat_versions).toContain('7.0.8');
  });

  it('exits 2 naming the file when one is broken', async () => {
    const dir = folderWith({ 'x.ini': 'backend = pbs\nstorage = file:///x\n[rat]\n7.0.8 = CVMFS\n' });
    const result = await runGasp(['sites', 'check', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${join(dir, 'x.ini')}: backend: "pbs" is not allowed (expected local | slurm | condor | dirac | dry)`,
    );
  });

  it('refuses root:// storage that names no path on the storage element with exit 2, in one line', async () => {
    const dir = folderWith({
      'x.ini': 'backend = local\nstorage = root://se.example.org:1094\n[rat]\n7.0.8 = CVMFS\n',
    });
    const result = await runGasp(['sites', 'check', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${join(dir, 'x.ini')}: storage: "root://se.example.org:1094" names no path on the storage element after its host (expected a file:// URL, a root://host:port//path URL or a copy command with {src} and {dest})`,
    );
  });
});

/** A folder with a stand-in RAT release (bin/rat) and env scripts: one that sets it up, and others that do not. */
function releaseWithScripts(): string {
  const dir = folderWith({
    'good.sh': 'export RATROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/rat"\nexport PATH="$RATROOT/bin:$PATH"\n',
    'no-ratroot.sh': 'export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/rat/bin:$PATH"\n',
    'no-rat.sh': 'export RATROOT=/nonexistent/rat\n',
    'fails.sh': 'echo "ROOT not found at /opt/root" >&2\nreturn 3\n',
  });
  mkdirSync(join(dir, 'rat/bin'), { recursive: true });
  writeFileSync(join(dir, 'rat/bin/rat'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'rat/bin/rat'), 0o755);
  return dir;
}

describe('gasp sites check on the machine where it runs', () => {
  it('sources each env script as the job wrapper does and says what it set up', async () => {
    const scripts = releaseWithScripts();
    const dir = folderWith({ 'x.ini': `backend = local\nstorage = file:///x\n[rat]\n7.0.8 = ${scripts}/good.sh\n` });
    const result = await runGasp(['sites', 'check', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`  x [rat] 7.0.8: ok (RATROOT ${scripts}/rat, rat ${scripts}/rat/bin/rat)\n`);
  });

  it('names the site file, [rat] <version> and what is wrong, one line each, and exits 2', async () => {
    const scripts = releaseWithScripts();
    const site = [
      'backend = local',
      'storage = file:///x',
      '[rat]',
      `7.0.8 = ${scripts}/good.sh`,
      `7.0.9 = ${scripts}/no-ratroot.sh`,
      `7.1.0 = ${scripts}/no-rat.sh`,
      `7.1.1 = ${scripts}/fails.sh`,
      '7.1.2 = /nonexistent/env.sh',
    ].join('\n');
    const dir = folderWith({ 'x.ini': site });
    const file = join(dir, 'x.ini');
    // a RAT set up in the shell that runs the check must not make a script that sets up nothing pass
    const result = await runGasp(['sites', 'check', dir], {
      env: { RATROOT: `${scripts}/rat`, PATH: `${scripts}/rat/bin:${process.env.PATH ?? ''}` },
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${file}: [rat] 7.0.9: sourcing it sets no RATROOT (expected the env script to export RATROOT) (set-up line: source ${scripts}/no-ratroot.sh)`,
      `${file}: [rat] 7.1.0: sourcing it puts no rat on PATH (RATROOT is /nonexistent/rat; expected $RATROOT/bin on PATH) (set-up line: source ${scripts}/no-rat.sh)`,
      `${file}: [rat] 7.1.1: its set-up failed (exit 3): ROOT not found at /opt/root (set-up line: source ${scripts}/fails.sh)`,
      `${file}: [rat] 7.1.2: env script /nonexistent/env.sh does not exist (expected the absolute path of a script that sets up RAT 7.1.2)`,
    ]);
    expect(result.stdout).toContain('x [rat] 7.0.8: ok');
  });

  it('checks CVMFS versions where the CVMFS root is mounted, and says so where it is not', async () => {
    const cvmfs = releaseWithScripts();
    mkdirSync(join(cvmfs, 'sw/7.0.8'), { recursive: true });
    writeFileSync(
      join(cvmfs, 'sw/7.0.8/env_rat-7.0.8.sh'),
      `export RATROOT=${cvmfs}/rat\nexport PATH="$RATROOT/bin:$PATH"\n`,
    );
    const dir = folderWith({
      'mounted.ini': `backend = local\nstorage = file:///x\n[rat]\ncvmfs = ${cvmfs}\n7.0.8 = CVMFS\n7.0.9 = CVMFS\n`,
      'elsewhere.ini': 'backend = slurm\nstorage = file:///x\n[rat]\ncvmfs = /nonexistent/cvmfs\n7.0.8 = CVMFS\n',
    });
    const result = await runGasp(['sites', 'check', dir]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`  mounted [rat] 7.0.8: ok (RATROOT ${cvmfs}/rat, rat ${cvmfs}/rat/bin/rat)\n`);
    expect(result.stdout).toContain('  elsewhere [rat] 7.0.8: not checked here (no /nonexistent/cvmfs)\n');
    expect(result.stderr.trim()).toMatch(
      new RegExp(
        `^${join(dir, 'mounted.ini')}: \\[rat\\] 7\\.0\\.9: its set-up failed \\(exit 1\\): .*env_rat-7\\.0\\.9\\.sh: No such file or directory`,
      ),
    );
  });

  it('gives up on a set-up that hangs, naming the time it had', async () => {
    const dir = folderWith({ 'slow.sh': 'sleep 30\n', 'x.ini': '' });
    writeFileSync(join(dir, 'x.ini'), `backend = local\nstorage = file:///x\n[rat]\n7.0.8 = ${dir}/slow.sh\n`);
    const started = Date.now();
    const checks = await checkRatVersions(loadSite(join(dir, 'x.ini')), 300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(checks).toEqual([
      {
        version: '7.0.8',
        outcome: 'problem',
        problem: `its set-up did not finish within 0.3 s (set-up line: source ${dir}/slow.sh)`,
      },
    ]);
  });
});
