/**
 * Staging throughput: the job wrapper (bin/gasp-job) staging one output to a real XRootD storage
 * element (temporary name, the SE's size and adler32 checked, rename), against a plain `xrdcp` of
 * the same file to the same SE in the same run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JOB_WRAPPER } from '../src/backends/prepare.js';
import type { JobSpec } from '../src/backends/backend.js';
import type { Manifest } from '../src/model/manifest.js';
import type { LocalSe } from '../src/storage/local-se.js';

/** A RAT release whose `rat` only copies a prepared file to the output's name: the job is all staging. */
function copyingRelease(work: string, source: string): string {
  const release = join(work, 'release');
  mkdirSync(join(release, 'bin'), { recursive: true });
  mkdirSync(join(release, 'mac'), { recursive: true });
  writeFileSync(join(release, 'mac', 'stage.mac'), '/run/beamOn 1\n');
  writeFileSync(join(release, 'bin', 'rat'), `#!/bin/sh\nexec cp ${source} "$OUTPUT_FILE"\n`);
  chmodSync(join(release, 'bin', 'rat'), 0o755);
  const env = join(release, 'env.sh');
  writeFileSync(env, `export RATROOT=${release}\nexport PATH=${join(release, 'bin')}:$PATH\n`);
  return env;
}

/** Seconds the wrapper spent staging one file (its manifest's stage_seconds), run `round` of the figure. */
function wrapperStage(work: string, env: string, se: LocalSe, round: number, bytes: number): number {
  const dir = join(work, `job-${round}`);
  mkdirSync(dir, { recursive: true });
  const file = `stage_${round}.root`;
  const spec: JobSpec = {
    version: 2,
    job: { module: 'Stage', run: round, pass: 1, subjob: 0, label: 'bench' },
    rat: { version: '7.0.8', setup: `source ${env}` },
    macro: { path: 'mac/stage.mac', sha256: '', template: {} },
    rat_args: [],
    fields: {},
    outputs: [{ data_type: 'ntuple', file, named_by: 'macro' }],
    ratdb_tag: null,
    storage: { kind: 'root', url: `${se.url}//bench-staging`, tool: 'xrootd', path: `wrapper/${round}` },
    events: null,
  };
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const ran = spawnSync(JOB_WRAPPER, ['spec.json'], { cwd: dir, env: { ...process.env, OUTPUT_FILE: file } });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const output = manifest.outputs[0];
  if (ran.status !== 0 || output?.stage_seconds === undefined || output.size !== bytes)
    throw new Error(`the wrapper did not stage: ${manifest.error ?? ran.stderr.toString()}`);
  return output.stage_seconds;
}

function plainCopy(source: string, se: LocalSe, round: number): number {
  const started = performance.now();
  const copied = spawnSync('xrdcp', ['--force', '--nopbar', source, `${se.url}//bench-staging/plain/${round}.root`]);
  if (copied.status !== 0) throw new Error(`xrdcp: ${copied.stderr.toString().trim()}`);
  return (performance.now() - started) / 1000;
}

/** MB/s of the wrapper's staging and of plain xrdcp, medians of `rounds` alternating runs with one `megabytes` file. */
export function stagingThroughput(
  work: string,
  se: LocalSe,
  megabytes: number,
  rounds: number,
): { wrapper: number; xrdcp: number } {
  const bytes = megabytes << 20;
  const source = join(work, 'output.bin');
  writeFileSync(source, randomBytes(bytes));
  const env = copyingRelease(work, source);
  const wrapper: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round < rounds; round++) {
    wrapper.push(wrapperStage(work, env, se, round, bytes));
    plain.push(plainCopy(source, se, round));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 1;
  return { wrapper: megabytes / median(wrapper), xrdcp: megabytes / median(plain) };
}
