import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCycle } from '../src/client/cycle.js';
import { loadConfig } from '../src/config/config.js';
import type { ProxyStatus } from '../src/model/coordination.js';
import { loadSite, type Site } from '../src/sites/site.js';
import { jobSeconds, parseDiracTimeleft, parseVomsTimeleft, proxyLifetime, slurmSeconds } from '../src/sites/proxy.js';
import { DryBackend } from '../src/backends/dry.js';
import { overview } from '../src/dashboard/data.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { couchSection } from './support/couch.js';
import { databaseWithJobs, context, jobs } from './support/jobs.js';
import { captureLog } from './support/log.js';

const RECORDED = fileURLToPath(new URL('./fixtures/recorded/proxy/', import.meta.url));
const recorded = (name: string) => readFileSync(join(RECORDED, name), 'utf8');
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The recorded outputs with another time left: whole seconds for VOMS, DIRAC's HH:MM:SS line. */
const vomsSays = (seconds: number) => recorded('voms-proxy-info-timeleft.txt').replace(/^\d+$/m, String(seconds));
const diracSays = (seconds: number) => {
  const hms = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60];
  const text = hms.map((part) => String(part).padStart(2, '0')).join(':');
  return recorded('dirac-proxy-info.txt').replace(/^timeleft {5}: .*$/m, `timeleft     : ${text}`);
};

/**
 * A folder holding stand-in voms-proxy-info and dirac-proxy-info: each prints the folder's
 * NAME.stdout and NAME.stderr and exits with NAME.exit, which `answer` rewrites.
 */
function standIns(): { dir: string; answer: (name: string, stdout: string, stderr?: string, exit?: number) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-proxy-'));
  const answer = (name: string, stdout: string, stderr = '', exit = 0) => {
    writeFileSync(join(dir, `${name}.stdout`), stdout);
    writeFileSync(join(dir, `${name}.stderr`), stderr);
    writeFileSync(join(dir, `${name}.exit`), String(exit));
  };
  for (const name of ['voms-proxy-info', 'dirac-proxy-info']) {
    writeFileSync(
      join(dir, name),
      `#!/bin/sh\n# stand-in: prints output recorded from the real tool's source\nd=$(dirname "$0")\ncat "$d/${name}.stdout"\ncat "$d/${name}.stderr" >&2\nexit $(cat "$d/${name}.exit")\n`,
    );
    chmodSync(join(dir, name), 0o755);
    answer(name, '');
  }
  return { dir, answer };
}

function siteFile(lines: string, backend = 'dry', sections = ''): Site {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-proxy-site-'));
  writeFileSync(
    join(dir, 'grid.ini'),
    `backend = ${backend}\nstorage = file://${dir}/out\n${lines}[rat]\n7.0.8 = CVMFS\n${sections}`,
  );
  return loadSite(join(dir, 'grid.ini'));
}

describe('reading the grid proxy', () => {
  it('reads the recorded formats: VOMS seconds, DIRAC HH:MM:SS (hours past 99 too), nothing from anything else', () => {
    expect(parseVomsTimeleft(recorded('voms-proxy-info-timeleft.txt'))).toBe(259_199);
    expect(parseVomsTimeleft(recorded('voms-proxy-info-timeleft-expired.txt'))).toBe(0);
    expect(parseVomsTimeleft(recorded('voms-proxy-info-noproxy-stderr.txt'))).toBeUndefined();
    expect(parseDiracTimeleft(recorded('dirac-proxy-info.txt'))).toBe(23 * 3600 + 53 * 60 + 55);
    expect(parseDiracTimeleft(recorded('dirac-proxy-info-expired.txt'))).toBe(0);
    expect(parseDiracTimeleft(diracSays(123 * 3600 + 7))).toBe(123 * 3600 + 7);
    expect(parseDiracTimeleft(recorded('dirac-proxy-info-noproxy.txt'))).toBeUndefined();
  });

  it.each([
    ['30', 30 * 60],
    ['30:15', 30 * 60 + 15],
    ['12:00:00', 12 * 3600],
    ['2-0', 2 * 86_400],
    ['1-06:30', 86_400 + 6 * 3600 + 30 * 60],
    ['1-00:00:10', 86_400 + 10],
  ])('reads the Slurm time limit %s as %i seconds', (time, seconds) => {
    expect(slurmSeconds(time)).toBe(seconds);
  });

  it('takes a job’s needed time from the site file: [dirac] cpu_time, [slurm] time, else 24 h; proxy defaults by backend', () => {
    const dirac = siteFile('', 'dirac', '[dirac]\ncpu_time = 7200\n');
    expect([dirac.proxy, jobSeconds(dirac)]).toEqual(['dirac', 7200]);
    const slurm = siteFile('proxy = voms\n', 'slurm', '[slurm]\ntime = 1-12:00:00\n');
    expect([slurm.proxy, jobSeconds(slurm)]).toEqual(['voms', 36 * 3600]);
    const dry = siteFile('');
    expect([dry.proxy, jobSeconds(dry)]).toEqual(['none', 24 * 3600]);
    expect(siteFile('proxy = dirac\n', 'dry').proxy).toBe('dirac');
  });

  const hours72 = 72 * 3600;
  it.each([
    ['voms', 'voms-proxy-info', vomsSays(hours72), hours72],
    ['voms', 'voms-proxy-info', vomsSays(10 * 3600), 10 * 3600],
    ['voms', 'voms-proxy-info', vomsSays(1800), 1800],
    ['dirac', 'dirac-proxy-info', diracSays(hours72), hours72],
    ['dirac', 'dirac-proxy-info', diracSays(10 * 3600), 10 * 3600],
    ['dirac', 'dirac-proxy-info', diracSays(1800), 1800],
  ])('a %s site whose %s says so has the seconds it prints', async (kind, program, stdout, seconds) => {
    const { dir, answer } = standIns();
    answer(program, stdout);
    const lifetime = await proxyLifetime(siteFile(`proxy = ${kind}\n`), { env: { PATH: `${dir}:/usr/bin:/bin` } });
    expect(lifetime).toEqual({ kind, seconds });
  });

  it('runs dirac-proxy-info after the site’s [dirac] setup script, which puts it on PATH', async () => {
    const { dir, answer } = standIns();
    answer('dirac-proxy-info', diracSays(10 * 3600));
    const setup = join(dir, 'bashrc');
    writeFileSync(setup, `export PATH='${dir}':"$PATH"\n`);
    const site = siteFile('', 'dirac', `[dirac]\nsetup = ${setup}\n`);
    expect(await proxyLifetime(site, { env: { PATH: '/usr/bin:/bin' } })).toEqual({ kind: 'dirac', seconds: 36_000 });
    writeFileSync(setup, 'true\n');
    expect((await proxyLifetime(site, { env: { PATH: '/usr/bin:/bin' } }))?.problem).toBe(
      `dirac-proxy-info: command not found (install it or set [dirac] setup, or set proxy = none in ${site.file})`,
    );
  });

  it('gives one line for no proxy, an expired one, a missing command and one that hangs', async () => {
    const { dir, answer } = standIns();
    const env = { PATH: `${dir}:/usr/bin:/bin` };
    const voms = siteFile('proxy = voms\n');
    const dirac = siteFile('proxy = dirac\n');
    answer('voms-proxy-info', '', recorded('voms-proxy-info-noproxy-stderr.txt'), 1);
    answer('dirac-proxy-info', recorded('dirac-proxy-info-noproxy.txt'), '', 1);
    expect((await proxyLifetime(voms, { env }))?.problem).toBe(
      'no grid proxy: voms-proxy-info says "Proxy not found: /tmp/x509up_u1000 (No such file or directory)" (make one with voms-proxy-init --voms snoplus.snolab.ca)',
    );
    expect((await proxyLifetime(dirac, { env }))?.problem).toBe(
      `no grid proxy: dirac-proxy-info says "Can't find proxy ( 1101 : )" (make one with dirac-proxy-init -g snoplus_user)`,
    );
    answer('voms-proxy-info', recorded('voms-proxy-info-timeleft-expired.txt'));
    answer('dirac-proxy-info', recorded('dirac-proxy-info-expired.txt'));
    expect(await proxyLifetime(voms, { env })).toEqual({
      kind: 'voms',
      seconds: 0,
      problem: 'the grid proxy has expired (voms-proxy-init --voms snoplus.snolab.ca)',
    });
    expect((await proxyLifetime(dirac, { env }))?.problem).toBe(
      'the grid proxy has expired (dirac-proxy-init -g snoplus_user)',
    );
    const nowhere = { PATH: mkdtempSync(join(tmpdir(), 'gasp-empty-')) };
    expect((await proxyLifetime(voms, { env: nowhere }))?.problem).toBe(
      `voms-proxy-info: command not found (install it, or set proxy = none in ${voms.file})`,
    );
    writeFileSync(join(dir, 'voms-proxy-info'), '#!/bin/sh\nexec sleep 30\n');
    expect((await proxyLifetime(voms, { env, timeoutMs: 300 }))?.problem).toBe(
      'voms-proxy-info did not answer within 0.3 s',
    );
    expect(await proxyLifetime(siteFile(''))).toBeUndefined();
  });
});

describe('the grid proxy settings', () => {
  it('reads [notify] proxy_warn_hours (48) and [client] proxy_check (3600 s), GASP_NOTIFY_PROXY_WARN_HOURS overriding', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-proxy-cfg-'));
    writeFileSync(join(dir, 'gasp.cfg'), '[client]\nsite = local\n');
    const defaults = loadConfig(join(dir, 'gasp.cfg'), { env: {} });
    expect([defaults.notify.proxyWarnHours, defaults.client.proxyCheckSeconds]).toEqual([48, 3600]);
    writeFileSync(join(dir, 'gasp.cfg'), '[client]\nproxy_check = 60\n[notify]\nproxy_warn_hours = 24\n');
    const set = loadConfig(join(dir, 'gasp.cfg'), { env: { GASP_NOTIFY_PROXY_WARN_HOURS: '12' } });
    expect([set.notify.proxyWarnHours, set.client.proxyCheckSeconds]).toEqual([12, 60]);
    writeFileSync(join(dir, 'gasp.cfg'), '[notify]\nproxy_warn_hours = soon\n');
    expect(() => loadConfig(join(dir, 'gasp.cfg'), { env: {} })).toThrow(/\[notify\] proxy_warn_hours: "soon"/);
  });

  it('refuses a proxy key other than voms, dirac or none, naming the file and key', () => {
    expect(() => siteFile('proxy = x509\n')).toThrow(/grid\.ini: proxy: "x509" .*expected voms \| dirac \| none/);
  });
});

describe('a client whose grid proxy runs low', () => {
  const { dir, answer } = standIns();
  const path = process.env.PATH;
  beforeAll(() => {
    process.env.PATH = `${dir}:${path ?? ''}`;
  });
  afterAll(() => {
    process.env.PATH = path;
  });

  it('claims nothing while the proxy has less left than a job may run, warns below proxy_warn_hours, and claims again once renewed', async () => {
    const db = await databaseWithJobs(3, 'proxy-low');
    const { log, lines } = captureLog();
    const lows: number[] = [];
    const statuses: ProxyStatus[] = [];
    const ctx = {
      ...context(db, 'grid', new DryBackend(), 50, { lines: 'proxy = voms\n' }),
      log,
      proxy: {
        checkMs: 0,
        warnHours: 48,
        onProxyLow: (hours: number) => lows.push(hours),
        onStatus: (s: ProxyStatus) => void statuses.push(s),
      },
    };
    answer('voms-proxy-info', vomsSays(10 * 3600));
    const low = await runCycle(ctx, { submit: true, monitor: false });
    expect(low.claimed).toBe(0);
    expect(low.proxy).toBe(
      'its grid proxy has 10 h left, less than a job may run (24 h): it claims nothing until the proxy is renewed',
    );
    expect((await jobs(db)).flatMap((doc) => doc.passes.map((pass) => pass.status))).toEqual([
      'waiting',
      'waiting',
      'waiting',
    ]);
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining([
        'site grid: its grid proxy has 10 h left, less than a job may run (24 h): it claims nothing until the proxy is renewed; renew it with voms-proxy-init --voms snoplus.snolab.ca',
        'site grid: its grid proxy has 10 h left (warned below 48 h); renew it with voms-proxy-init --voms snoplus.snolab.ca',
      ]),
    );
    expect(lows).toEqual([10]);

    answer('voms-proxy-info', vomsSays(72 * 3600));
    const renewed = await runCycle(ctx, { submit: true, monitor: false });
    expect(renewed.claimed).toBe(3);
    expect(renewed.proxy).toBeUndefined();
    expect(lines.map((line) => line.msg)).toContain('site grid: its grid proxy has 72 h left: claiming again');
    expect(lows).toEqual([10]);
    expect(statuses.map((status) => [status.hours_left, status.needed_hours])).toEqual([
      [10, 24],
      [72, 24],
    ]);
  });

  it('tells an expired proxy once, not every hour it stays expired, and an unreadable one too', async () => {
    const db = await databaseWithJobs(1, 'proxy-expired');
    const lows: number[] = [];
    let now = Date.parse('2026-12-01T10:00:00.000Z');
    const ctx = {
      ...context(db, 'grid', new DryBackend(), 50, { lines: 'proxy = voms\n' }),
      now: () => new Date(now),
      proxy: { checkMs: 0, warnHours: 48, onProxyLow: (hours: number) => lows.push(hours) },
    };
    answer('voms-proxy-info', vomsSays(0));
    for (let hour = 0; hour < 3; hour++) {
      expect((await runCycle(ctx, { submit: true, monitor: false })).claimed).toBe(0);
      now += 3_600_000;
    }
    expect(lows).toEqual([0]);
    answer('voms-proxy-info', vomsSays(72 * 3600));
    expect((await runCycle(ctx, { submit: true, monitor: false })).claimed).toBe(1);
    answer('voms-proxy-info', '', 'Proxy not found: /tmp/x509up_u0 (No such file or directory)\n', 1);
    for (let hour = 0; hour < 2; hour++) await runCycle(ctx, { submit: true, monitor: false });
    expect(lows).toEqual([0, 0]);
  });
});

describe('gasp enqueue with a grid proxy', () => {
  it('says in gasp why and gasp sites status that it claims nothing for its proxy, and claims once the proxy is renewed', async () => {
    const db = await databaseWithJobs(2, 'proxy-enqueue');
    const { dir, answer } = standIns();
    answer('voms-proxy-info', vomsSays(1800));
    writeFileSync(
      join(dir, 'grid.ini'),
      `name = grid\nbackend = dry\nproxy = voms\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    const config = `${couchSection(db.name)}[client]\nsite = grid.ini\ninterval = 1\nproxy_check = 1\n`;
    writeFileSync(join(dir, 'gasp.cfg'), config);
    const env = { ...process.env, GASP_CONFIG: undefined, PATH: `${dir}:${process.env.PATH ?? ''}` };
    const child = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', join(dir, 'gasp.cfg')], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      for (let waited = 0; waited < 300 && !stderr.includes('cycle 2:'); waited++) await wait(50);
      expect(stderr).toContain('NO CLAIMS (its grid proxy has 0.5 h left, less than a job may run (24 h)');
      const gasp = (args: string[]) => runGasp([...args, '-c', join(dir, 'gasp.cfg')], { cwd: dir });
      const why = await gasp(['why', '--label', 'enq']);
      expect(why.stdout).toContain(
        'grid: its grid proxy has 0.5 h left, less than a job may run (24 h): it claims nothing until the proxy is renewed',
      );
      const status = await gasp(['sites', 'status']);
      expect(status.stdout).toMatch(
        /^grid \(production\): grid proxy \(voms\): 0\.5 h left, a job may need 24 h: CLAIMS NOTHING until it is renewed \(checked \S+\)$/m,
      );
      expect((await overview(db, 'production', 1800)).sites).toEqual([
        expect.objectContaining({
          site: 'grid',
          proxy: expect.objectContaining({ hours_left: 0.5, needed_hours: 24 }),
        }),
      ]);

      answer('voms-proxy-info', vomsSays(72 * 3600));
      for (let waited = 0; waited < 300 && !stderr.includes('claiming again'); waited++) await wait(50);
      for (let waited = 0; waited < 100; waited++) {
        if ((await jobs(db)).every((doc) => doc.passes.every((pass) => pass.site === 'grid'))) break;
        await wait(100);
      }
      expect((await jobs(db)).flatMap((doc) => doc.passes.map((pass) => pass.site))).toEqual(['grid', 'grid']);
      expect((await gasp(['sites', 'status'])).stdout).toMatch(
        /^grid \(production\): grid proxy \(voms\): 72 h left, a job may need 24 h \(checked \S+\)$/m,
      );
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  }, 60_000);
});
