import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { Database } from '../src/db/database.js';
import { parseFileList, problemLines } from '../src/grab/filelist.js';
import type { DataDoc, DataFile } from '../src/model/documents.js';
import { parseRootUrl } from '../src/model/storage-url.js';
import { Adler32 } from '../src/storage/adler32.js';
import { plural } from '../src/words.js';
import { gaspOn } from './support/cli.js';
import { completedData, context, databaseWithJobs } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const scratch = (what: string) => mkdtempSync(join(tmpdir(), `gasp-grab-list-${what}-`));

/** GridTools' read_grabber_file, as it reads a list: the copy type, then exactly four whitespace fields a line, an integer size. */
function readAsGridTools(text: string): { copyType: string; rows: Array<[string, number, string, string]> } {
  const [first = '', ...lines] = text.split('\n');
  if (first.trim() !== 'GUID' && first.trim() !== 'SURL') throw new Error('Unknown copy type');
  const rows = lines
    .filter((line) => line !== '')
    .map((line): [string, number, string, string] => {
      const fields = line.split(/\s+/).filter((field) => field !== '');
      if (fields.length !== 4) throw new Error(`not 4 fields: ${line}`);
      const [name, size, source, adler32] = fields as [string, string, string, string];
      if (!/^\d+$/.test(size)) throw new Error(`size not an int: ${line}`);
      return [name, Number(size), source, adler32];
    });
  return { copyType: first.trim(), rows };
}

describe('GridTools file lists, read and written', () => {
  it('reads a list as GridTools writes it: guid: prefix or none, tabs or spaces, -99999 for an unknown adler32', () => {
    const text = 'GUID\r\na.root\t100\tguid:1234-ab\t0A1B2C3D\r\nb.root   7  5678-cd  -99999\n\n';
    expect(parseFileList(text)).toEqual({
      list: {
        copyType: 'GUID',
        entries: [
          { name: 'a.root', size: 100, source: '1234-ab', adler32: '0a1b2c3d', line: 2 },
          { name: 'b.root', size: 7, source: '5678-cd', adler32: '', line: 3 },
        ],
      },
      problems: [],
    });
  });

  it('names every problem of a list with its line, what is wrong and what was expected', () => {
    const problems = (text: string) => problemLines('FILE', parseFileList(text).problems);
    expect(problems('LFN\na.root 1 x 00000001\n')).toEqual([
      'FILE:1: "LFN" is not a copy type (expected GUID or SURL on the first line, as GridTools writes)',
    ]);
    expect(
      problems(
        'SURL\na.root 1 root://se//a.root\nb.root 1x root://se//b.root 1\nc.root 1 /data/c.root zz\na.root 1 root://se//a.root 1\na.root 2 root://se//a2.root 1\n',
      ),
    ).toEqual([
      'FILE:2: 3 fields (expected 4, separated by whitespace: name, size, GUID or SURL, adler32)',
      'FILE:3: size "1x" is not a whole number of bytes (expected such as 52428)',
      'FILE:4: adler32 "zz" is not hex digits (expected such as 0a1b2c3d, or -99999 when unknown)',
      'FILE:4: SURL "/data/c.root" is not a URL (expected such as root://host:port//path/c.root)',
      'FILE:6: a.root is already on line 5 (expected each file once)',
    ]);
    expect(problems('GUID\n\n')).toEqual([
      'FILE:2: no files listed (expected a line per file after the first: name, size, GUID, adler32)',
    ]);
  });
});

describe('gasp grab --list and --from-list on an XRootD storage element', () => {
  const se = needsXrootd();
  let db: Database;
  let data: DataDoc[];
  let files: DataFile[];
  const base = `/grablist-${process.pid}`;
  /** The file on the SE's disk behind a root:// URL. */
  const onSe = (url: string) => join(se.data, parseRootUrl(url).path);
  const gasp = (args: string[]) => gaspOn(db, args);
  const sorted = (list: DataFile[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));

  beforeAll(async () => {
    if (se.data === '/nonexistent') return;
    // a small campaign run by the real wrapper through the local backend, staging its outputs to the SE
    db = await databaseWithJobs(2, 'grablist');
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
    data = await completedData(
      context(db, 'se-site', backend, 4, { storage: `${se.url}/${base}`, lines: 'se = TEST-SE\n' }),
    );
    files = sorted(data.flatMap((doc) => doc.files));
  }, 180_000);

  /** Writes a list with `grab --list` and returns its path and the command's result. */
  async function writeList(args: string[] = []) {
    const list = join(scratch('list'), 'filelist.dat');
    const result = await gasp(['grab', '--label', 'enq', '--list', list, ...args]);
    return { list, result };
  }

  /** Every file fetched is byte for byte the SE's copy, and the manifest says what each was checked by. */
  function expectFetched(dir: string, checked: string[]) {
    for (const file of files) expect(readFileSync(join(dir, file.name))).toEqual(readFileSync(onSe(file.url)));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      files: Array<{ file: string; checked: string[] }>;
    };
    expect(manifest.files.map((row) => [row.file, row.checked])).toEqual(files.map((file) => [file.name, checked]));
  }

  it('writes a GUID list of a label, line for line as GridTools writes one from the data documents, and GridTools can read it', async () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    const { list, result } = await writeList();
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(new RegExp(`^grab: ${files.length} files, .* listed by GUID in ${list}\n$`));
    const text = readFileSync(list, 'utf8');
    expect(text).toBe(
      `GUID\n${files.map((file) => `${file.name}\t${file.size}\t${file.guid}\t${file.adler32}\n`).join('')}`,
    );
    const read = readAsGridTools(text);
    expect(read.copyType).toBe('GUID');
    expect(read.rows).toEqual(files.map((file) => [file.name, file.size, file.guid, file.adler32]));
    expect(readdirSync(join(list, '..'))).toEqual(['filelist.dat']);
  });

  it('refuses to replace a list in one line unless --force, and --copy-type surl names each file by its first copy in --prefer order', async () => {
    const { list } = await writeList();
    const before = readFileSync(list, 'utf8');
    const again = await gasp(['grab', '--label', 'enq', '--list', list, '--copy-type', 'surl']);
    expect([again.code, again.stderr]).toEqual([
      2,
      `--list: ${list} exists (expected a new file, or --force to replace it)\n`,
    ]);
    expect(readFileSync(list, 'utf8')).toBe(before);
    // a mirror of the first file, on this machine, preferred over the SE; a copy marked missing is passed over
    const doc = data.find((one) => one.files.some((file) => file.name === files[0]?.name));
    if (doc === undefined) throw new Error('no data document');
    const stored = await db.get<DataDoc>(doc._id);
    const first = files[0] as DataFile;
    const mirror = `file://${onSe(first.url)}`;
    await db.put({
      ...stored,
      files: stored.files.map((file) =>
        file.name === first.name
          ? {
              ...file,
              replicas: [
                { se: 'GONE-SE', url: 'root://gone.example.org//x', missing: '2026-12-01T00:00:00Z' },
                ...file.replicas,
                { se: 'MIRROR', url: mirror },
              ],
            }
          : file,
      ),
    });
    try {
      const forced = await gasp([
        'grab',
        '--label',
        'enq',
        '--list',
        list,
        '--copy-type',
        'surl',
        '--force',
        '--prefer',
        'GONE-SE,MIRROR',
      ]);
      expect([forced.code, forced.stderr]).toEqual([0, '']);
      const urls = files.map((file) => (file.name === first.name ? mirror : file.url));
      expect(readFileSync(list, 'utf8')).toBe(
        `SURL\n${files.map((file, at) => `${file.name}\t${file.size}\t${urls[at]}\t${file.adler32}\n`).join('')}`,
      );
    } finally {
      await db.put({ ...(await db.get<DataDoc>(doc._id)), files: stored.files });
    }
  });

  it('fetches every file of a GUID list byte-identical, checked by size, adler32 and sha256; run again, nothing is fetched', async () => {
    const { list } = await writeList();
    const dir = join(scratch('guid'), 'out');
    const result = await gasp(['grab', '--from-list', list, '-d', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(
      new RegExp(
        `^grab: ${files.length} files of ${list} \\(by GUID\\), .*, into ${dir}; checked by size, adler32 and sha256$`,
        'm',
      ),
    );
    expect(result.stdout).toMatch(new RegExp(`^grab: ${files.length} fetched .* 0 failed; catalogue `, 'm'));
    expectFetched(dir, ['size', 'adler32', 'sha256']);
    const again = await gasp(['grab', '--from-list', list, '-d', dir]);
    expect(again.stdout).toContain(`grab: 0 fetched (0 B in`);
    expect(again.stdout).toContain(`${files.length} already present, 0 failed`);
  });

  it('fetches every file of a SURL list byte-identical from the URL it names, with the sha256 of the file the database records there', async () => {
    const { list } = await writeList(['--copy-type', 'surl']);
    const dir = scratch('surl');
    const result = await gasp(['grab', '--from-list', list, '-d', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toContain(`(by SURL), `);
    expect(result.stdout).toContain('; checked by size, adler32 and sha256\n');
    expectFetched(dir, ['size', 'adler32', 'sha256']);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      files: Array<{ url: string; label: string; guid: string }>;
    };
    expect(manifest.files.map(({ url, label, guid }) => [url, label, guid])).toEqual(
      files.map((file) => [file.url, 'enq', file.guid]),
    );
  });

  it('fetches a list written by hand as GridTools writes one: guid: prefixes, spaces, -99999, and a SURL the database does not know (checked by size and adler32)', async () => {
    const [one, two] = files as [DataFile, DataFile];
    const folder = scratch('hand');
    const guids = join(folder, 'guids.dat');
    writeFileSync(
      guids,
      `GUID\n${one.name}\t${one.size}\tguid:${one.guid}\t-99999\n${two.name}  ${two.size}  ${two.guid}  ${two.adler32}\n`,
    );
    const byGuid = await gasp(['grab', '--from-list', guids, '-d', join(folder, 'guid')]);
    expect([byGuid.code, byGuid.stderr]).toEqual([0, '']);
    for (const file of [one, two])
      expect(readFileSync(join(folder, 'guid', file.name))).toEqual(readFileSync(onSe(file.url)));

    // a copy of the first file somewhere gasp never recorded, named other.root
    const elsewhere = `${se.url}/${base}/elsewhere/other.root`;
    mkdirSync(join(se.data, base, 'elsewhere'), { recursive: true });
    writeFileSync(onSe(elsewhere), readFileSync(onSe(one.url)));
    const surls = join(folder, 'surls.dat');
    writeFileSync(
      surls,
      // and a file:// copy of the first at its LFN on this machine: the database knows it by its LFN
      `SURL\nother.root ${one.size} ${elsewhere} ${one.adler32}\n${two.name} ${two.size} ${two.url} -99999\nlocal.root ${one.size} file://${onSe(one.url)} ${one.adler32}\n`,
    );
    const dir = join(folder, 'surl');
    const bySurl = await gasp(['grab', '--from-list', surls, '-d', dir]);
    expect([bySurl.code, bySurl.stderr]).toEqual([0, '']);
    expect(bySurl.stdout).toContain('; checked by size, adler32 and sha256 (2 of them)\n');
    expect(readFileSync(join(dir, 'other.root'))).toEqual(readFileSync(onSe(one.url)));
    expect(readFileSync(join(dir, 'local.root'))).toEqual(readFileSync(onSe(one.url)));
    expect(readFileSync(join(dir, two.name))).toEqual(readFileSync(onSe(two.url)));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      files: Array<{ file: string; checked: string[]; sha256: string }>;
    };
    const rows: Array<[string, string[], string]> = [
      ['other.root', ['size', 'adler32'], ''],
      [two.name, ['size', 'adler32', 'sha256'], two.sha256],
      ['local.root', ['size', 'adler32', 'sha256'], one.sha256],
    ];
    expect(manifest.files.map(({ file, checked, sha256 }) => [file, checked, sha256])).toEqual(
      rows.sort((a, b) => a[0].localeCompare(b[0])),
    );
  });

  it('refuses a broken list with every problem and its line, exit 2, and fetches nothing', async () => {
    const [one, two] = files as [DataFile, DataFile];
    const folder = scratch('broken');
    const dir = join(folder, 'out');
    const cases: Array<[string, string, string[]]> = [
      [
        'first.dat',
        `guids\n${one.name} ${one.size} ${one.guid} ${one.adler32}\n`,
        ['FILE:1: "guids" is not a copy type (expected GUID or SURL on the first line, as GridTools writes)'],
      ],
      [
        'lines.dat',
        `GUID\n${one.name} ${one.size} ${one.guid}\n${two.name} big ${two.guid} ${two.adler32}\n${one.name}x 10 guid:no-such-guid -99999\n${two.name} ${two.size} ${two.guid} ${two.adler32}\n${one.name}.copy ${one.size + 1} ${one.guid} -99999\n`,
        [
          'FILE:2: 3 fields (expected 4, separated by whitespace: name, size, GUID or SURL, adler32)',
          'FILE:3: size "big" is not a whole number of bytes (expected such as 52428)',
          `FILE:4: GUID no-such-guid is not in ${db.name} (expected the GUID of a file gasp recorded)`,
          `FILE:6: size ${one.size + 1} differs from the ${one.size} bytes recorded for ${one.name} (expected the list to agree with the database)`,
        ],
      ],
      [
        'srm.dat',
        `SURL\n${one.name} ${one.size} ${one.url} ${one.adler32}\n${two.name} ${two.size} srm://srm.example.org:8443/srm/managerv2?SFN=/snoplus/${two.name} ${two.adler32}\n`,
        [
          `FILE:3: srm://srm.example.org:8443/srm/managerv2?SFN=/snoplus/${two.name} cannot be fetched by gasp (expected a root:// or file:// SURL; srm:// is for GridTools' grabber)`,
        ],
      ],
    ];
    for (const [name, text, problems] of cases) {
      const file = join(folder, name);
      writeFileSync(file, text);
      const result = await gasp(['grab', '--from-list', file, '-d', dir]);
      expect([result.code, result.stderr.replaceAll(file, 'FILE'), result.stdout]).toEqual([
        2,
        `${problems.join('\n')}\n`,
        '',
      ]);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a copy corrupted on the SE by its adler32, by GUID and by a SURL the database does not know, keeps nothing of it, and exits 1', async () => {
    const victim = files[0] as DataFile;
    const path = onSe(victim.url);
    const original = readFileSync(path);
    // same size, other bytes, changed behind gasp's back on the SE itself
    const bad = Buffer.from(original.map((byte, at) => (at === 10 ? byte ^ 0x01 : byte)));
    expect(new Adler32().update(bad).digest()).not.toBe(victim.adler32);
    writeFileSync(path, bad);
    try {
      const { list } = await writeList();
      const dir = join(scratch('corrupt'), 'out');
      const result = await gasp(['grab', '--from-list', list, '-d', dir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        `  FAILED ${victim.name}: adler32 differs from the recorded ${victim.adler32} (xrdcp's check)\n`,
      );
      expect(result.stdout).toContain(`grab: ${files.length - 1} fetched`);
      expect(readdirSync(dir).filter((name) => name.startsWith(victim.name))).toEqual([]);

      // only the list's adler32 to go by: no sha256 is known for a copy the database never recorded
      mkdirSync(join(se.data, base, 'unknown'), { recursive: true });
      writeFileSync(join(se.data, base, 'unknown', 'copy.root'), bad);
      const surls = join(scratch('corrupt'), 'surls.dat');
      writeFileSync(surls, `SURL\ncopy.root ${victim.size} ${se.url}/${base}/unknown/copy.root ${victim.adler32}\n`);
      const bySurl = await gasp(['grab', '--from-list', surls, '-d', dir]);
      expect(bySurl.code).toBe(1);
      expect(bySurl.stdout).toContain('; checked by size and adler32\n');
      expect(bySurl.stdout).toContain(
        `  FAILED copy.root: adler32 differs from the recorded ${victim.adler32} (xrdcp's check)\n`,
      );
      expect(existsSync(join(dir, 'copy.root'))).toBe(false);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('refuses --list with --from-list, and --from-list with a selection, in one line with exit 2', async () => {
    const list = join(scratch('modes'), 'filelist.dat');
    const both = await gasp(['grab', '--list', list, '--from-list', list]);
    expect([both.code, both.stderr]).toEqual([
      2,
      '--list: does not go with --from-list (expected one of them: --list writes a list of a selection, --from-list fetches the files of a list)\n',
    ]);
    const selected = await gasp(['grab', '--from-list', list, '--label', 'enq', '--type', 'ntuple']);
    expect([selected.code, selected.stderr]).toEqual([
      2,
      '--from-list: does not go with --label, --type (expected the list alone: it names the files to fetch)\n',
    ]);
    const alone = await gasp(['grab', '--label', 'enq', '--copy-type', 'surl']);
    expect([alone.code, alone.stderr]).toEqual([
      2,
      '--copy-type: goes only with --list (expected --list FILE with it)\n',
    ]);
    expect(existsSync(list)).toBe(false);
    const help = await gasp(['grab', '--help']);
    expect(help.stdout).toContain('  gasp grab --label mc-2026-bi214 --type ntuple --list filelist.dat\n');
    expect(help.stdout).toContain('  gasp grab --from-list filelist.dat -d bi214');
  });

  it("finds a file whose document stores its GUID in lcg-utils' guid: form, as GASP's documents may, from a list with or without the prefix", async () => {
    const [first] = data as [DataDoc];
    const stored = await db.get<DataDoc>(first._id);
    const target = stored.files[0] as DataFile;
    await db.put({
      ...stored,
      files: stored.files.map((file) => (file === target ? { ...file, guid: `guid:${file.guid}` } : file)),
    });
    try {
      for (const guid of [target.guid, `guid:${target.guid}`]) {
        const list = join(scratch('list'), 'filelist.dat');
        writeFileSync(list, `GUID\n${target.name}\t${target.size}\t${guid}\t${target.adler32}\n`);
        const dir = scratch('got');
        const got = await gasp(['grab', '--from-list', list, '-d', dir]);
        expect([got.code, got.stderr]).toEqual([0, '']);
        expect(readFileSync(join(dir, target.name))).toEqual(readFileSync(onSe(target.url)));
      }
    } finally {
      await db.put({ ...(await db.get<DataDoc>(stored._id)), files: stored.files });
    }
  });

  it('names and leaves out a file without a GUID, and in SURL mode one whose every copy is marked missing', async () => {
    const [first, second] = data as [DataDoc, DataDoc];
    const stored = [await db.get<DataDoc>(first._id), await db.get<DataDoc>(second._id)] as const;
    const [noGuid, noCopy] = [stored[0].files[0], stored[1].files[0]] as [DataFile, DataFile];
    const missing = '2026-12-01T00:00:00Z';
    await db.put({
      ...stored[0],
      files: stored[0].files.map((file) => (file === noGuid ? { ...file, guid: '' } : file)),
    });
    await db.put({
      ...stored[1],
      files: stored[1].files.map((file) =>
        file === noCopy ? { ...file, replicas: file.replicas.map((replica) => ({ ...replica, missing })) } : file,
      ),
    });
    try {
      const byGuid = await writeList();
      expect(byGuid.result.stdout).toMatch(new RegExp(`^grab: left out ${noGuid.name}: no GUID\n`));
      expect(readFileSync(byGuid.list, 'utf8')).not.toContain(noGuid.name);
      expect(readFileSync(byGuid.list, 'utf8')).toContain(noCopy.name);
      const bySurl = await writeList(['--copy-type', 'surl']);
      expect(bySurl.result.stdout).toMatch(
        new RegExp(`^grab: left out ${noCopy.name}: no copy left \\(every replica is marked missing\\)\n`),
      );
      expect(bySurl.result.stdout).toContain(`grab: ${plural(files.length - 1, 'file')}, `);
      expect(readFileSync(bySurl.list, 'utf8')).not.toContain(noCopy.name);
    } finally {
      for (const doc of stored) await db.put({ ...(await db.get<DataDoc>(doc._id)), files: doc.files });
    }
  });

  it('refuses in one line naming it a file whose name has a space, which a list cannot hold, and writes no list', async () => {
    const doc = data[0] as DataDoc;
    const stored = await db.get<DataDoc>(doc._id);
    const renamed = stored.files[0] as DataFile;
    await db.put({
      ...stored,
      files: stored.files.map((file) => (file === renamed ? { ...file, name: 'two words.root' } : file)),
    });
    try {
      const { list, result } = await writeList();
      expect([result.code, result.stderr]).toEqual([
        2,
        'two words.root: the name has whitespace, which a GridTools list cannot hold (expected names without spaces)\n',
      ]);
      expect(existsSync(list)).toBe(false);
    } finally {
      await db.put({ ...(await db.get<DataDoc>(doc._id)), files: stored.files });
    }
  });
});
