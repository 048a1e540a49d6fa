import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRootUrl } from '../src/model/storage-url.js';
import { loadSite } from '../src/sites/site.js';
import { Adler32, adler32OfFile } from '../src/storage/adler32.js';
import { checkStored } from '../src/storage/check.js';
import { startLocalSe } from '../src/storage/local-se.js';
import {
  copyFile,
  listedFiles,
  listFiles,
  ping,
  remoteFile,
  removeFile,
  statFile,
  unreachableAnswer,
} from '../src/storage/xrootd.js';
import { needsXrootd } from './support/xrootd.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'gasp-storage-'));

describe('adler32', () => {
  it('is the checksum Python zlib and XRootD give, zero-padded to eight hex digits', async () => {
    const file = join(scratch(), 'random.bin');
    writeFileSync(file, randomBytes(3_000_003));
    const python = spawnSync(
      'python3',
      ['-c', `import zlib;print('%08x' % zlib.adler32(open('${file}','rb').read()))`],
      {
        encoding: 'utf8',
      },
    );
    expect(await adler32OfFile(file)).toBe(python.stdout.trim());
    expect(new Adler32().update(Buffer.from('hello\n')).digest()).toBe('084b021f');
  });

  it("is zlib's for the largest sums too (bytes of 0xff), given whole or in odd pieces", () => {
    const bytes = Buffer.alloc(1_000_003, 0xff);
    const python = spawnSync(
      'python3',
      ['-c', "import sys,zlib;print('%08x' % zlib.adler32(sys.stdin.buffer.read()))"],
      {
        input: bytes,
        encoding: 'utf8',
      },
    );
    expect(new Adler32().update(bytes).digest()).toBe(python.stdout.trim());
    const pieces = new Adler32();
    for (let at = 0; at < bytes.length; at += 4_093) pieces.update(bytes.subarray(at, at + 4_093));
    expect(pieces.digest()).toBe(python.stdout.trim());
  });
});

describe('root:// URLs', () => {
  it('split into the server and the absolute path, in either slash form', () => {
    expect(parseRootUrl('root://se.example.org:1094//snoplus/mc')).toEqual({
      server: 'root://se.example.org:1094',
      path: '/snoplus/mc',
    });
    expect(parseRootUrl('root://se.example.org/snoplus/mc/')).toEqual({
      server: 'root://se.example.org',
      path: '/snoplus/mc',
    });
  });

  it('without a path or with .. are refused, saying what is expected', () => {
    expect(() => parseRootUrl('root://se.example.org:1094')).toThrow(/names no path/);
    expect(() => parseRootUrl('root://se.example.org:1094//a/../b')).toThrow(/\.\./);
  });

  it('are a storage kind of a site file, copied with xrootd unless the site says gfal', () => {
    const dir = scratch();
    writeFileSync(join(dir, 's.ini'), 'backend = local\nstorage = root://se:1094//snoplus\n[rat]\n7.0.8 = CVMFS\n');
    const site = loadSite(join(dir, 's.ini'));
    expect(site.storage).toEqual({ kind: 'root', url: 'root://se:1094//snoplus' });
    expect(site.storageTool).toBe('xrootd');
  });
});

describe('answers of the XRootD tools', () => {
  it('are read in both ls -l forms: with the owner and group of an extended stat, and without', () => {
    expect(
      listedFiles('root://se:1094', [
        'drwxr-xr-x xrootd xrootd 4096 2026-12-01 04:36:55 /snoplus/a',
        '-rw-r--r-- xrootd xrootd    6 2026-12-01 04:36:55 /snoplus/a/one file.root',
        '-rw- 2026-12-01 04:36:55 2000 /snoplus/a/two.root',
        'd--- 2026-12-01 04:36:55 0 /snoplus/a/b',
      ]),
    ).toEqual([
      { url: 'root://se:1094//snoplus/a/one file.root', path: '/snoplus/a/one file.root', size: 6 },
      { url: 'root://se:1094//snoplus/a/two.root', path: '/snoplus/a/two.root', size: 2000 },
    ]);
  });

  it('count as an SE that did not answer only on a connection error (exit 51 or [FATAL]), not on a refusal', () => {
    expect(unreachableAnswer({ code: 51, stdout: '', stderr: '[ERROR] Socket error' })).toBe(true);
    expect(unreachableAnswer({ code: 50, stdout: '', stderr: 'Run: [FATAL] Connection error' })).toBe(true);
    expect(unreachableAnswer({ code: 52, stdout: '', stderr: '[ERROR] Auth failed' })).toBe(false);
    expect(unreachableAnswer({ code: 54, stdout: '', stderr: '[ERROR] Server responded with an error: [3010]' })).toBe(
      false,
    );
  });
});

describe('a storage element that serves only its VO path, as grid SEs do', () => {
  needsXrootd();

  it('answers gasp’s ping and checks, though it refuses to stat /', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-vo-se-'));
    chmodSync(dir, 0o755);
    const se = await startLocalSe(dir, undefined, '/snoplus');
    try {
      await ping(se.url);
      const file = join(scratch(), 'out.root');
      writeFileSync(file, 'hello\n');
      const url = `${se.url}//snoplus/mc/out.root`;
      await copyFile(file, url);
      expect(await checkStored(url, { size: 6, adler32: '84b021f' })).toBeUndefined();
      expect(await listFiles(`${se.url}//snoplus`)).toEqual([{ url, path: '/snoplus/mc/out.root', size: 6 }]);
    } finally {
      await se.stop();
    }
  });
});

describe('the XRootD client against a real storage element', () => {
  const se = needsXrootd();

  it('copies a file there and reads back its size and the SE-computed adler32', async () => {
    const file = join(scratch(), 'out.root');
    writeFileSync(file, 'hello\n');
    const url = `${se.url}//client-test/a/out.root`;
    await copyFile(file, url, url);
    expect(await remoteFile(url)).toEqual({ size: 6, adler32: '084b021f' });
    expect(await listFiles(`${se.url}//client-test`)).toEqual([{ url, path: '/client-test/a/out.root', size: 6 }]);
    await removeFile(url);
    expect(await statFile(url)).toBeUndefined();
    await removeFile(url); // already gone: not an error
  });

  it('says in one line, at once, that a storage element does not answer', async () => {
    const started = Date.now();
    const error = await statFile('root://127.0.0.1:1//snoplus/x.root').catch((caught: unknown) => caught as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^root:\/\/127\.0\.0\.1:1\/\/snoplus\/x\.root: storage element unreachable \(/,
    );
    expect((error as Error).message).not.toContain('\n');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
