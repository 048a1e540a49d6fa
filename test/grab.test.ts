import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { Database } from '../src/db/database.js';
import type { DataDoc, JobDoc, Pass, ProductionInfoDoc } from '../src/model/documents.js';
import { gaspOn } from './support/cli.js';
import { completedData, context, databaseWithJobs, INFO, runUntilEnded } from './support/jobs.js';

let db: Database;
let data: DataDoc[];

const gasp = (args: string[]) => gaspOn(db, args);

beforeAll(async () => {
  // three passes run by the real wrapper through the local backend, their outputs in file:// storage
  db = await databaseWithJobs(3, 'grab');
  data = await completedData(
    context(db, 'local', new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 })),
  );
}, 120_000);

describe('gasp grab', () => {
  it("fetches a label's files, verifies them, and writes the catalogue (<file>, <events>) and a JSON manifest beside them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-grab-'));
    const files = data.flatMap((doc) => doc.files);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const result = await gasp(['grab', '--label', 'enq', '-d', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^grab: ${files.length} files, .* into ${dir}$`, 'm'));
    expect(result.stdout).toMatch(
      new RegExp(
        `^grab: ${files.length} fetched \\(.* in .* s, .*/s\\), 0 already present, 0 failed; catalogue ${join(dir, 'catalogue.txt')}$`,
        'm',
      ),
    );
    for (const file of files) expect(readFileSync(join(dir, file.name))).toEqual(readFileSync(fileURLToPath(file.url)));
    const catalogue = readFileSync(join(dir, 'catalogue.txt'), 'utf8').trim().split('\n');
    expect(catalogue).toEqual(
      [...files]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((file) => `${join(dir, file.name)}, ${file.events ?? '-'}`),
    );
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      files: Array<{ file: string; sha256: string; label: string }>;
    };
    expect(manifest.files.map((file) => file.file).sort()).toEqual(files.map((file) => file.name).sort());
    expect(manifest.files.every((file) => file.label === 'enq' && /^[0-9a-f]{64}$/.test(file.sha256))).toBe(true);
  });

  it('resumes an interrupted grab: files already verified are not fetched again, a half-written .part is replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-grab-'));
    const types = [...new Set(data.map((doc) => doc.data_type))];
    const first = types[0] ?? '';
    expect((await gasp(['grab', '--label', 'enq', '--type', first, '-d', dir])).code).toBe(0);
    const rest = data.filter((doc) => doc.data_type !== first).flatMap((doc) => doc.files);
    const half = rest[0];
    // a grab killed half-way leaves NAME.<its pid>.part
    if (half !== undefined) writeFileSync(join(dir, `${half.name}.999999.part`), 'half of it');
    const again = await gasp(['grab', '--label', 'enq', '-d', dir]);
    expect(again.code).toBe(0);
    const done = data.filter((doc) => doc.data_type === first).flatMap((doc) => doc.files).length;
    expect(again.stdout).toContain(`grab: ${rest.length} fetched`);
    expect(again.stdout).toContain(`${done} already present, 0 failed`);
    expect(again.stdout.split('\n').filter((line) => line.startsWith('present ')).length).toBe(done);
    expect(readdirSync(dir).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('deletes and reports a file whose checksum is wrong, keeps the good ones, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-grab-'));
    const victim = data[0]?.files[0];
    if (victim === undefined) throw new Error('no output to corrupt');
    const path = fileURLToPath(victim.url);
    const original = readFileSync(path);
    // same size, other bytes: the checksums tell
    writeFileSync(path, Buffer.from(original.map((byte) => byte ^ 0xff)));
    try {
      const result = await gasp(['grab', '--label', 'enq', '-d', dir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(
          `^ {2}FAILED ${victim.name}: sha256 [0-9a-f]{12}…, expected ${victim.sha256.slice(0, 12)}…: deleted$`,
          'm',
        ),
      );
      expect(result.stdout).toContain('1 failed');
      expect(existsSync(join(dir, victim.name))).toBe(false);
      expect(readFileSync(join(dir, 'catalogue.txt'), 'utf8')).not.toContain(victim.name);
    } finally {
      writeFileSync(path, original);
    }
    expect((await gasp(['grab', '--label', 'enq', '-d', dir])).stdout).toContain('grab: 1 fetched');
  });

  it('fetches a file whose storage URL is http://', async () => {
    const doc = data[1];
    const file = doc?.files[0];
    if (doc === undefined || file === undefined) throw new Error('no output to serve');
    const body = readFileSync(fileURLToPath(file.url));
    const server = createServer((request, response) => {
      if (request.url === `/store/${file.name}`) response.end(body);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const stored = await db.get<DataDoc>(doc._id);
    await db.put({
      ...stored,
      files: stored.files.map((one) =>
        one.name === file.name
          ? { ...one, replicas: [{ se: 'web', url: `http://127.0.0.1:${port}/store/${file.name}` }] }
          : one,
      ),
    });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'gasp-grab-'));
      const result = await gasp(['grab', '--label', 'enq', '-d', dir]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^fetched ${file.name} \\(`, 'm'));
      expect(readFileSync(join(dir, file.name))).toEqual(body);
    } finally {
      server.close();
      await db.put({ ...(await db.get<DataDoc>(doc._id)), files: stored.files });
    }
  });

  it('never writes outside its folder: a data document naming "../x" is reported, not fetched', async () => {
    const doc = data[2];
    const file = doc?.files[0];
    if (doc === undefined || file === undefined) throw new Error('no output');
    const stored = await db.get<DataDoc>(doc._id);
    await db.put({
      ...stored,
      files: stored.files.map((one) => (one.name === file.name ? { ...one, name: '../escaped.root' } : one)),
    });
    try {
      const parent = mkdtempSync(join(tmpdir(), 'gasp-grab-'));
      const dir = join(parent, 'inside');
      const result = await gasp(['grab', '--label', 'enq', '-d', dir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('  FAILED ../escaped.root: not a plain file name: not fetched');
      expect(existsSync(join(parent, 'escaped.root'))).toBe(false);
    } finally {
      await db.put({ ...(await db.get<DataDoc>(doc._id)), files: stored.files });
    }
  });

  it('refuses a bad option in one line with exit 2, and says when nothing matches', async () => {
    const bad = await gasp(['grab', '--label', 'enq', '--parallel', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('--parallel: "many" is not a whole number (expected such as 4)');
    expect((await gasp(['grab', '--label', 'enq', '--status', 'failed'])).stdout.trim()).toBe(
      'grab: no output files match (passes failed)',
    );
  });

  it('refuses a label no pass has and a data type that does not exist with exit 2, naming a close one, and writes nothing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gasp-grab-')), 'out');
    const label = await gasp(['grab', '--label', 'enqq', '-d', dir]);
    expect([label.code, label.stderr.trim(), label.stdout]).toEqual([
      2,
      `--label: no pass has label "enqq" in ${db.name} (did you mean "enq"?)`,
      '',
    ]);
    const typo = await gasp(['grab', '--label', 'enq', '--type', 'ntupel', '-d', dir]);
    expect([typo.code, typo.stderr.trim()]).toEqual([
      2,
      '--type: "ntupel" is not a data type (did you mean "ntuple"?)',
    ]);
    const far = await gasp(['grab', '--label', 'enq', '--type', 'histograms', '-d', dir]);
    expect(far.stderr.trim()).toBe(
      '--type: "histograms" is not a data type (expected ratds, other_ratds, ntuple, other_ntuple, soc, other_soc)',
    );
    expect(existsSync(dir)).toBe(false);
    // a real data type these passes did not make is no mistake: nothing matches
    expect((await gasp(['grab', '--label', 'enq', '--type', 'soc', '-d', dir])).stdout.trim()).toBe(
      'grab: no output files match (passes completed, partFail, types soc)',
    );
  });

  it('gasp exactly refuses a label no pass has with exit 2, naming a close one, and writes no file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-exactly-')), 'enqq.exactly');
    const result = await gasp(['exactly', '--label', 'enqq', '-o', file]);
    expect([result.code, result.stderr.trim(), result.stdout]).toEqual([
      2,
      `--label: no pass has label "enqq" in ${db.name} (did you mean "enq"?)`,
      '',
    ]);
    expect(existsSync(file)).toBe(false);
    expect((await gasp(['exactly', '--label', 'enq', '-o', file])).stdout.trim()).toBe(
      `${file}: 3 jobs with label enq in ${db.name}`,
    );
  });
});

describe('the reproducibility record', () => {
  it('gasp show says which RATDB tag a pass asked for, which one its jobs ran with, and keeps it in the command to run it again', async () => {
    const tagged = await databaseWithJobs(1, 'show-tag', { ratdbTag: 'water-physics-v2' });
    const [doc] = await runUntilEnded(
      context(tagged, 'local', new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 2 })),
    );
    if (doc === undefined) throw new Error('no job');
    expect(doc.passes[0]).toMatchObject({
      status: 'completed',
      ratdb_tag: 'water-physics-v2',
      subjobs: [{ ran: { ratdb_tag: 'water-physics-v2' } }],
    });
    const shown = await gaspOn(tagged, ['show', doc.module, String(doc.run)]);
    const lines = shown.stdout.trim().split('\n');
    expect(lines[2]).toMatch(/; ratdb tag water-physics-v2$/);
    expect(shown.stdout).toMatch(/^ {4}s0: .*, wrapper 4, ratdb tag water-physics-v2$/m);
    expect(lines.at(-1)).toBe(
      `  to run it again exactly: gasp submit --like ${doc.module} ${doc.run} 1  (RAT 7.0.8, ratdb tag water-physics-v2)`,
    );
    await tagged.destroy();
  }, 60_000);

  it('gasp show prints what a pass ran and made; gasp submit --like adds an exact copy, and refuses once the macro changed', async () => {
    const doc = (await db.allDocs<JobDoc>({ startkey: 'job:', endkey: 'job:\uffff', include_docs: true })).rows[0]?.doc;
    if (!doc) throw new Error('no job');
    const pass = doc.passes[0] as Pass;
    const shown = await gasp(['show', doc.module, String(doc.run)]);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `${doc.module} run ${doc.run} pass 1: completed (label enq, priority ${pass.priority}, requested ${pass.created})`,
    );
    expect(lines[1]).toBe(`  RAT 7.0.8; macro ${INFO.modules[doc.module]?.path} sha256 ${pass.macro_sha256}`);
    expect(lines[2]).toMatch(/^ {2}event mode \S+: 10 events; template fill_volume=lower; ratdb tag -$/);
    expect(shown.stdout).toMatch(/^ {4}s0: backend id \S+, completed, exit 0 on \S+ \S+ → \S+, wrapper 4$/m);
    const mine = await db.view<unknown[], string, DataDoc>('data', 'by_pass', {
      key: [doc.module, doc.run, 1],
      include_docs: true,
    });
    for (const row of mine.rows)
      for (const file of row.doc?.files ?? [])
        expect(shown.stdout).toContain(
          [
            `    ${row.doc?.data_type}: ${file.name}, ${file.size} bytes, ${file.events ?? '-'} events`,
            `      lfn ${file.lfn}`,
            `      guid ${file.guid}, adler32 ${file.adler32}, sha256 ${file.sha256}`,
            `      replica file ${file.url}`,
          ].join('\n'),
        );
    expect(lines.at(-1)).toBe(
      `  to run it again exactly: gasp submit --like ${doc.module} ${doc.run} 1  (RAT 7.0.8, the live RATDB (no tag))`,
    );

    const cwd = mkdtempSync(join(tmpdir(), 'gasp-like-'));
    const like = await gasp(['submit', '--like', doc.module, String(doc.run), '1', '-o', join(cwd, 'again.exactly')]);
    expect(like.code).toBe(0);
    expect(like.stdout.split('\n')[0]).toBe(
      `added ${doc.module} run ${doc.run} pass 2, a copy of pass 1: RAT 7.0.8, label enq, priority ${pass.priority}, fill_volume=lower; waiting`,
    );
    expect(readFileSync(join(cwd, 'again.exactly'), 'utf8')).toBe(`${doc.module}\t${doc.run}\t2\n`);
    const copy = (await db.get<JobDoc>(doc._id)).passes[1] as Pass;
    for (const field of [
      'rat_version',
      'label',
      'priority',
      'event_mode',
      'amount',
      'template',
      'macro_sha256',
    ] as const)
      expect(copy[field]).toEqual(pass[field]);
    expect(copy).toMatchObject({ status: 'waiting', attempts: [], like: { pass: 1 } });
    expect(copy.site).toBeUndefined();
    expect((await gasp(['show', doc.module, String(doc.run), '2'])).stdout).toContain('  an exact copy of pass 1');

    const info = await db.get<ProductionInfoDoc>(INFO._id);
    const module = info.modules[doc.module];
    if (module === undefined) throw new Error('no module');
    await db.put({ ...info, modules: { ...info.modules, [doc.module]: { ...module, sha256: 'f'.repeat(64) } } });
    const refused = await gasp(['submit', '--like', doc.module, String(doc.run), '1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `--like ${doc.module} ${doc.run} 1: its macro is no longer the one that pass ran (sha256 ${pass.macro_sha256?.slice(0, 12)}…, now ffffffffffff…), so an exact copy cannot run (expected a new request through jobs.json)`,
    );
    expect((await gasp(['submit', '--like', doc.module, 'x', '1'])).stderr.trim()).toBe(
      `--like: "${doc.module} x 1" is not MODULE RUN PASS (expected such as TeloadedBi214 300001 1)`,
    );
  });
});
