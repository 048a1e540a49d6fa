import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { JobDoc, ProcessingInfoDoc, RunDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { processRuns } from '../src/processing/process.js';
import { folderSource, rootSource } from '../src/processing/raw-source.js';
import { newWatchState, pollSource, type WatchSettings } from '../src/processing/watch.js';
import { gaspOn, runGasp } from './support/cli.js';
import { couchSection, useTestDatabase } from './support/couch.js';
import { folderWith, problemsOf } from './support/files.js';
import { followUntilSeen } from './support/follow.js';
import { needsXrootd } from './support/xrootd.js';

const test = useTestDatabase('runs-watch');

const INFO: ProcessingInfoDoc = {
  _id: 'processing_information_7_0_8',
  type: 'processing_information',
  rat_version: '7.0.8',
  modules: {
    Processing: { level: 'sub_run', path: 'p.mac', outputs: ['ratds'], prerequisites: [], raw_processor: true },
  },
  run_types: { Physics: ['Processing'] },
};

const DEFAULTS = loadConfig('/nonexistent/gasp.cfg', { missingIsEmpty: true, env: {} }).processing;
const SETTINGS: WatchSettings = { patterns: DEFAULTS, settleMs: 600_000, knownRunTypes: new Set(['Physics']) };

/** adler32 of "abc" and of "Wikipedia", as every adler32 implementation gives them. */
const ABC = 'adler32:024d0127';
const WIKIPEDIA = 'adler32:11e60398';

const runDoc = (run: number) => test.db.get<RunDoc>(`run:${run}`);

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.put(INFO);
});

describe('gasp runs watch', () => {
  it('registers stable raw files by run, completes runs by closing file or settle time, and never a growing file', async () => {
    const folder = folderWith({
      'SNOP_0000100151_000.zdab': 'abc',
      'SNOP_0000100151_001.zdab': 'Wikipedia',
      'SNOP_0000100151.closed': '',
      'SNOP_0000100152_000.zdab': 'abc',
      'SNOP_0000100152_001.zdab': 'Wiki',
      'notes.txt': 'shift notes',
    });
    const source = folderSource(folder);
    const state = newWatchState();
    const now = new Date();
    const first = await pollSource(test.db, source, state, SETTINGS, now);
    expect(first.written).toEqual([]);
    expect(first.settling).toHaveLength(4);
    expect(first.warnings).toEqual(['notes.txt: matches no raw file name pattern; not registered']);

    appendFileSync(join(folder, 'SNOP_0000100152_001.zdab'), 'pedia');
    const second = await pollSource(test.db, source, state, SETTINGS, now);
    expect(second).toEqual({
      written: ['100151 added (complete)', '100152 added (being written)'],
      settling: ['SNOP_0000100152_001.zdab'],
      warnings: [],
      unmatched: 1,
    });
    expect(await runDoc(100151)).toMatchObject({
      run: 100151,
      run_type: 'Physics',
      complete: true,
      subfiles: [
        { name: 'SNOP_0000100151_000.zdab', size: 3, checksum: ABC },
        { name: 'SNOP_0000100151_001.zdab', size: 9, checksum: WIKIPEDIA },
      ],
    });
    expect(await runDoc(100152)).toMatchObject({
      complete: false,
      subfiles: [{ name: 'SNOP_0000100152_000.zdab', size: 3, checksum: ABC }],
    });

    const jobs = await processRuns(test.db, [await runDoc(100151), await runDoc(100152)], INFO, {
      label: 'proc',
      priority: 0,
      prereqPass: 'latest',
    });
    expect(jobs.jobs.map((job) => `${job.module}:${job.run}`)).toEqual(['Processing:100151']);
    expect(jobs.skipped).toEqual(['run 100152: still being written (complete: false); no jobs until it is complete']);
    expect(await followUntilSeen(test.db, INFO, 100151)).toEqual([100151]);

    const third = await pollSource(test.db, source, state, SETTINGS, now);
    expect(third.written).toEqual(['100152 updated (being written)']);
    expect((await runDoc(100152)).subfiles.map((file) => [file.size, file.checksum])).toEqual([
      [3, ABC],
      [9, WIKIPEDIA],
    ]);
    const later = await pollSource(test.db, source, state, SETTINGS, new Date(now.getTime() + 601_000));
    expect(later.written).toEqual(['100152 updated (complete)']);
    expect(later.settling).toEqual([]);
    expect(await followUntilSeen(test.db, INFO, 100152)).toContain(100152);
    const processing = await test.db.get<JobDoc>('job:Processing:100152');
    // each subjob reads its raw file where the watcher saw it, and knows its adler32
    expect(processing.passes[0]?.subjobs?.map((subjob) => [subjob.file, subjob.checksum])).toEqual([
      [pathToFileURL(join(folder, 'SNOP_0000100152_000.zdab')).href, ABC],
      [pathToFileURL(join(folder, 'SNOP_0000100152_001.zdab')).href, WIKIPEDIA],
    ]);

    const revisions = [(await runDoc(100151))._rev, (await runDoc(100152))._rev];
    const again = newWatchState();
    for (let poll = 0; poll < 2; poll++)
      expect((await pollSource(test.db, source, again, SETTINGS, new Date(now.getTime() + 700_000))).written).toEqual(
        [],
      );
    expect([(await runDoc(100151))._rev, (await runDoc(100152))._rev]).toEqual(revisions);
  });

  it('takes the run type from the run type file, and warns once when the processing information does not know it', async () => {
    const source = folderSource(
      folderWith({ 'SNOP_0000100160_000.zdab': 'abc', 'SNOP_0000100160.type': 'Calibration\n' }),
    );
    const state = newWatchState();
    const now = new Date();
    await pollSource(test.db, source, state, SETTINGS, now);
    const second = await pollSource(test.db, source, state, SETTINGS, now);
    expect(second.warnings).toEqual([
      'run 100160: run type "Calibration" (from SNOP_0000100160.type) names none of the processing information\'s run types (Physics); gasp process will make no jobs for it',
    ]);
    expect((await runDoc(100160)).run_type).toBe('Calibration');
    expect((await pollSource(test.db, source, state, SETTINGS, now)).warnings).toEqual([]);
  });

  it('registers with --once (two polls --interval apart), and a second watch changes nothing', async () => {
    const folder = folderWith({ 'SNOP_0000100170_000.zdab': 'abc', 'SNOP_0000100170.closed': '' });
    const first = await gaspOn(test.db, ['runs', 'watch', `file://${folder}`, '--once', '--interval', '0.2']);
    expect(first.code).toBe(0);
    const doc = await runDoc(100170);
    expect(doc).toMatchObject({
      complete: true,
      subfiles: [{ name: 'SNOP_0000100170_000.zdab', size: 3, checksum: ABC }],
    });
    const second = await gaspOn(test.db, ['runs', 'watch', folder, '--once', '--interval', '0.2']);
    expect(second.code).toBe(0);
    expect((await runDoc(100170))._rev).toBe(doc._rev);
  });

  it('refuses an unreadable source, a source it cannot watch and an unknown default run type in one line, exit 2', async () => {
    const missing = await gaspOn(test.db, ['runs', 'watch', '/nonexistent/raw', '--once']);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      2,
      '/nonexistent/raw: cannot read the folder (ENOENT) (expected a readable folder of raw files)',
    ]);
    const remote = await gaspOn(test.db, ['runs', 'watch', 'gsiftp://se.example/raw', '--once']);
    expect([remote.code, remote.stderr.trim()]).toEqual([
      2,
      'gsiftp://se.example/raw: not a source gasp can watch (expected a local folder, file:// path or root://HOST:PORT//path)',
    ]);
    const dir = folderWith({ 'gasp.cfg': `${couchSection(test.db.name)}\n[processing]\nrun_type = Calibration\n` });
    const unknown = await runGasp(['runs', 'watch', dir, '--once', '-c', join(dir, 'gasp.cfg')], { cwd: dir });
    expect([unknown.code, unknown.stderr.trim()]).toEqual([
      2,
      `${join(dir, 'gasp.cfg')}: [processing] run_type: "Calibration" names none of the processing information's run types (expected one of Physics)`,
    ]);
  });

  it('reads the name patterns from [processing], and says what is wrong with one', () => {
    const custom = folderWith({
      'gasp.cfg': '[processing]\nraw_pattern = ^run(?<run>\\d+)_(?<subfile>\\d+)\\.raw$\n',
    });
    const config = loadConfig(join(custom, 'gasp.cfg'), { env: {} });
    expect(config.processing.rawPattern.exec('run42_7.raw')?.groups).toEqual({ run: '42', subfile: '7' });
    expect(
      problemsOf(
        (file) => loadConfig(file, { env: {} }),
        'gasp.cfg',
        '[processing]\nclosed_pattern = ^SNOP_\\d+\\.closed$\n',
      ),
    ).toEqual([
      'FILE: [processing] closed_pattern: "^SNOP_\\\\d+\\\\.closed$" has no group (?<run>…) (expected a regular expression with a group (?<run>…))',
    ]);
  });
});

describe('gasp runs watch root://', () => {
  const se = needsXrootd();
  const ROOT_SETTINGS: WatchSettings = { ...SETTINGS, knownRunTypes: new Set(['Physics', 'Calibration']) };
  /** A folder of its own on the SE: `data/NAME` here is root://HOST:PORT//NAME. */
  const seFolder = (files: Record<string, string>) => {
    const name = `runs-watch-${randomBytes(4).toString('hex')}`;
    mkdirSync(join(se.data, name));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(se.data, name, file), text);
    return { local: join(se.data, name), url: `${se.url}//${name}` };
  };

  it('registers stable files seen over root:// with the SE adler32 and root:// URLs, reads the run type file, and completes a run at its closing file', async () => {
    const folder = seFolder({
      'SNOP_0000100201_000.zdab': 'abc',
      'SNOP_0000100201_001.zdab': 'Wiki',
      'SNOP_0000100201.type': 'Calibration\n',
    });
    const source = rootSource(folder.url);
    // xrdfs ls -l gives times to the second (UTC): the settle time is measured from them
    const onDisk = (name: string) => {
      const stat = statSync(join(folder.local, name));
      return { name, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs / 1000) * 1000 };
    };
    expect(await source.list()).toEqual(
      ['SNOP_0000100201_000.zdab', 'SNOP_0000100201_001.zdab', 'SNOP_0000100201.type'].map(onDisk),
    );
    const state = newWatchState();
    const now = new Date();
    expect(await pollSource(test.db, source, state, ROOT_SETTINGS, now)).toMatchObject({
      written: [],
      settling: ['SNOP_0000100201_000.zdab', 'SNOP_0000100201_001.zdab'],
    });

    appendFileSync(join(folder.local, 'SNOP_0000100201_001.zdab'), 'pedia');
    const second = await pollSource(test.db, source, state, ROOT_SETTINGS, now);
    expect([second.written, second.settling]).toEqual([['100201 added (being written)'], ['SNOP_0000100201_001.zdab']]);
    expect(await runDoc(100201)).toMatchObject({
      run_type: 'Calibration',
      complete: false,
      subfiles: [
        { name: 'SNOP_0000100201_000.zdab', size: 3, checksum: ABC, url: `${folder.url}/SNOP_0000100201_000.zdab` },
      ],
    });

    writeFileSync(join(folder.local, 'SNOP_0000100201.closed'), '');
    const third = await pollSource(test.db, source, state, ROOT_SETTINGS, now);
    expect([third.written, third.settling, third.warnings]).toEqual([['100201 updated (complete)'], [], []]);
    const doc = await runDoc(100201);
    expect(doc.subfiles).toEqual([
      { name: 'SNOP_0000100201_000.zdab', size: 3, checksum: ABC, url: `${folder.url}/SNOP_0000100201_000.zdab` },
      { name: 'SNOP_0000100201_001.zdab', size: 9, checksum: WIKIPEDIA, url: `${folder.url}/SNOP_0000100201_001.zdab` },
    ]);
    expect(doc.subfiles[0]?.url).toMatch(
      /^root:\/\/127\.0\.0\.1:\d+\/\/runs-watch-[0-9a-f]+\/SNOP_0000100201_000\.zdab$/,
    );

    const again = newWatchState();
    for (let poll = 0; poll < 2; poll++)
      expect((await pollSource(test.db, source, again, ROOT_SETTINGS, now)).written).toEqual([]);
    expect((await runDoc(100201))._rev).toBe(doc._rev);
  });

  it('watches a root:// folder from the command, twice to no change, and refuses one it cannot read in one line, exit 2', async () => {
    const folder = seFolder({ 'SNOP_0000100210_000.zdab': 'Wikipedia', 'SNOP_0000100210.closed': '' });
    const watch = () => gaspOn(test.db, ['runs', 'watch', folder.url, '--once', '--interval', '0.2']);
    expect((await watch()).code).toBe(0);
    const doc = await runDoc(100210);
    expect(doc).toMatchObject({
      run_type: 'Physics',
      complete: true,
      subfiles: [
        {
          name: 'SNOP_0000100210_000.zdab',
          size: 9,
          checksum: WIKIPEDIA,
          url: `${folder.url}/SNOP_0000100210_000.zdab`,
        },
      ],
    });
    expect((await watch()).code).toBe(0);
    expect((await runDoc(100210))._rev).toBe(doc._rev);

    const missing = `${se.url}//no/such/folder`;
    const refused = await gaspOn(test.db, ['runs', 'watch', missing, '--once']);
    expect([refused.code, refused.stderr.trim()]).toEqual([
      2,
      `${missing}: cannot read the folder (no such folder) (expected a readable folder of raw files on the storage element)`,
    ]);
  });
});
