import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { grabFiles, type GrabFile } from '../src/grab/grab.js';
import { Adler32 } from '../src/storage/adler32.js';
import type { LocalSe } from '../src/storage/local-se.js';
import { copyFile } from '../src/storage/xrootd.js';

/** What a figure of the bench is told with (bench/run.ts's own). */
export interface Reporting {
  report: (
    figure: string,
    value: number,
    unit: string,
    baseline?: { name: string; value: number },
    target?: string,
  ) => void;
  progress: (what: string) => void;
}

/** Files fetched at once, by grab and by the plain xrdcp alike (grab's default). */
const PARALLEL = 4;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function run(argv: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    if (program === undefined) return reject(new Error('no command'));
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${program} exited ${code}: ${stderr}`))));
  });
}

/** Puts `count` files of `size` random bytes on the SE; what a data document would say of them. */
async function filesOnSe(se: LocalSe, work: string, count: number, size: number): Promise<GrabFile[]> {
  const local = mkdtempSync(join(work, 'grab-source-'));
  const files: GrabFile[] = [];
  for (let index = 0; index < count; index++) {
    const name = `bench_${index}.root`;
    const bytes = randomBytes(size);
    writeFileSync(join(local, name), bytes);
    const url = `${se.url}//bench/grab/${name}`;
    await copyFile(join(local, name), url);
    files.push({
      name,
      size,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      adler32: new Adler32().update(bytes).digest(),
      events: 100,
      data_type: 'ntuple',
      module: 'Bench',
      run: index,
      pass: 1,
      label: 'bench',
      replicas: [{ se: 'BENCH-SE', url }],
    });
  }
  rmSync(local, { recursive: true, force: true });
  return files;
}

/** Seconds taken by `work` in a fresh folder, which is removed after. */
async function secondsInto(work: string, fetch: (dir: string) => Promise<void>): Promise<number> {
  const dir = mkdtempSync(join(work, 'grab-into-'));
  try {
    const started = performance.now();
    await fetch(dir);
    return (performance.now() - started) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * gasp grab's throughput from a local SE (xrdcp per file, size, adler32 and sha256 verified, the
 * journal written) against xrdcp alone fetching the same files into a folder, in the same run,
 * both `PARALLEL` at a time; each the median of `repeats`, alternating so drift hits both alike.
 */
export async function grabThroughputFigure(
  se: LocalSe,
  work: string,
  sizes: { files: number; mb: number; repeats: number },
  { report, progress }: Reporting,
): Promise<void> {
  progress(`grab throughput: ${sizes.files} files of ${sizes.mb} MB from a local SE, ${sizes.repeats} runs each`);
  mkdirSync(work, { recursive: true });
  const files = await filesOnSe(se, work, sizes.files, sizes.mb * 1_000_000);
  const megabytes = sizes.files * sizes.mb;
  const urls = files.map((file) => file.replicas[0]?.url ?? '');
  const plain: number[] = [];
  const perFile: number[] = [];
  const grabbed: number[] = [];
  for (let round = 0; round < sizes.repeats; round++) {
    const xrdcp = await secondsInto(work, (dir) =>
      run(['xrdcp', '--silent', '--parallel', String(PARALLEL), ...urls, `${dir}/`]),
    );
    plain.push(megabytes / xrdcp);
    const each = await secondsInto(work, async (dir) => {
      const queue = new PQueue({ concurrency: PARALLEL });
      for (const [at, url] of urls.entries()) void queue.add(() => copyFile(url, join(dir, `${at}.root`)));
      await queue.onIdle();
    });
    perFile.push(megabytes / each);
    const grab = await secondsInto(work, async (dir) => {
      const result = await grabFiles(files, { dir, parallel: PARALLEL });
      if (result.fetched.length !== files.length)
        throw new Error(`grab fetched ${result.fetched.length} of ${files.length}: ${result.failed[0]?.reason}`);
    });
    grabbed.push(megabytes / grab);
  }
  report(
    `grab from a local SE, ${sizes.files} x ${sizes.mb} MB (verified)`,
    median(grabbed),
    'MB/s',
    { name: `one xrdcp --parallel ${PARALLEL}`, value: median(plain) },
    '>= 0.8',
  );
  // grab runs an xrdcp a file (each copy can fall back to another replica): this one tells its checks from that
  report(`grab from a local SE, vs the same xrdcp a file`, median(grabbed), 'MB/s', {
    name: `xrdcp a file, ${PARALLEL} at once`,
    value: median(perFile),
  });
}
