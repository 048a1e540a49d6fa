import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { overview } from '../src/dashboard/data.js';
import { InputError } from '../src/errors.js';
import type { ProductionInfoDoc, ProductionModule } from '../src/model/documents.js';
import type { EventMode } from '../src/model/event-mode.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { generatedLabel } from '../src/submit/label.js';
import { LABEL } from '../src/submit/request.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { runGasp } from './support/cli.js';
import { couchEnv, testCouch, uniqueName, useTestDatabase } from './support/couch.js';
import { context, INFO, jobs, runUntilEnded } from './support/jobs.js';

const test = useTestDatabase('labels');
const MANUAL = fileURLToPath(new URL('./fixtures/manual/', import.meta.url));

/** Production information for the manual's releases (not in test/fixtures): its modules and their event modes. */
function info(version: string, modules: Record<string, [EventMode, string[]]>): ProductionInfoDoc {
  const entries = Object.entries(modules).map(([name, [event_mode, template]]): [string, ProductionModule] => [
    name,
    {
      path: `mac/production/${name}.mac`,
      phase: 'water',
      event_mode,
      outputs: ['ratds'],
      template: ['OUTPUT', ...template],
      sha256: `sha-${name}`,
    },
  ]);
  return {
    _id: `production_information_${version.replaceAll('.', '_')}`,
    type: 'production_information',
    rat_version: version,
    modules: Object.fromEntries(entries),
  };
}

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.put(
    info('5.3.2', {
      'TeLoadedBipo212-pure_RAT5': ['time', []],
      'TeLoadedBipo214-pure_RAT5': ['time', []],
      WaterPmt_Betagammas: ['number', ['radius']],
    }),
  );
  await test.db.put(info('6.3.2', { WaterBi214Run: ['run', []], WaterBi214_ExwaterRun: ['run', []] }));
  await test.db.put(info('6.4.0', { WaterN16sourceRun: ['run_number', []] }));
});

/** A copy of a manual example in a fresh folder (the working directory of the command), under `name`. */
function copyOfExample(example: string, name = example): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-labels-'));
  copyFileSync(join(MANUAL, example), join(dir, name));
  copyFileSync(join(MANUAL, 'runs.txt'), join(dir, 'runs.txt'));
  return { dir, file: join(dir, name) };
}

const env = () => couchEnv(test.db.name);

describe('a request as the SNO+ request form writes it', () => {
  it('reads numbers written as strings ("n_runs": "565") as numbers, and still refuses text that is no number', async () => {
    const { file } = copyOfExample('request-form.json');
    const { plan } = await submitRequestFile(test.db, file, { dryRun: true });
    expect(plan.entries.map((entry) => [entry.module, entry.jobs.length, entry.priority])).toEqual([
      ['TeLoadedBipo212-pure_RAT5', 565, 0],
      ['WaterPmt_Betagammas', 3_397, 5],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'gasp-labels-'));
    const wrong = join(dir, 'wrong.json');
    writeFileSync(
      wrong,
      JSON.stringify({
        rat_v: '5.3.2',
        modules: [{ module: 'TeLoadedBipo212-pure_RAT5', t_run: '365', t_format: 'day', n_runs: 'many' }],
      }),
    );
    await expect(submitRequestFile(test.db, wrong, { dryRun: true })).rejects.toThrow(
      /modules\[0\]\.n_runs: .*whole number of runs/,
    );
  });
});

describe("the manual's jobs.json examples", () => {
  it.each([
    [
      'by-time.json',
      [],
      [
        ['TeLoadedBipo212-pure_RAT5', 565],
        ['TeLoadedBipo214-pure_RAT5', 12_245],
      ],
    ],
    [
      'by-events.json',
      [],
      [
        ['WaterPmt_Betagammas', 3_397],
        ['WaterPmt_Betagammas', 3_200],
      ],
    ],
    [
      'run-numbers.json',
      [],
      [
        ['WaterBi214Run', 2],
        ['WaterBi214_ExwaterRun', 2],
      ],
    ],
    [
      'runlist.json',
      ['runs.txt'],
      [
        ['WaterBi214Run', 2],
        ['WaterBi214_ExwaterRun', 2],
      ],
    ],
    ['events-per-run.json', [], [['WaterN16sourceRun', 2]]],
  ] as const)(
    '%s, which names no label, is planned under <file name>-<request id>',
    async (example, runlist, modules) => {
      const { file, dir } = copyOfExample(example);
      const { plan, result, request } = await submitRequestFile(test.db, file, {
        dryRun: true,
        ...(runlist.length > 0 && { runListFile: join(dir, 'runs.txt') }),
      });
      const label = `${example.replace('.json', '')}-${result.requestId.slice('req-'.length, 'req-'.length + 8)}`;
      expect(request.defaultLabel).toEqual({ label, from: 'generated' });
      expect(LABEL.test(label)).toBe(true);
      expect(plan.entries.map((entry) => [entry.module, entry.jobs.length, entry.label])).toEqual(
        modules.map(([module, count]) => [module, count, label]),
      );
    },
  );

  it('keeps the labels the file names (labelled.json), and --label then names nothing', async () => {
    const { plan, request } = await submitRequestFile(test.db, copyOfExample('labelled.json').file, {
      dryRun: true,
      label: 'unused',
    });
    expect(request.defaultLabel).toBeUndefined();
    expect(plan.entries.map((entry) => entry.label)).toEqual(['WaterData_paper', 'WaterData_paper']);
    const { dir, file } = copyOfExample('labelled.json');
    const cli = await runGasp(['submit', file, '--label', 'unused', '--dry-run'], { cwd: dir, env: env() });
    expect(cli.code).toBe(0);
    expect(cli.stderr.trim()).toBe(
      `--label unused: not used: every entry of ${file} names its label (the file's labels win)`,
    );
  });

  it("gives --label to the entries that name none, and the file's own labels to the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-labels-'));
    const file = join(dir, 'mixed.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '6.3.2',
        modules: [
          { module: 'WaterBi214Run', label: 'bi214-paper', n_runs: 1, run_numbers: [1] },
          { module: 'WaterBi214_ExwaterRun', n_runs: 1, run_numbers: [1] },
        ],
      }),
    );
    const { plan } = await submitRequestFile(test.db, file, { dryRun: true, label: 'from-option' });
    expect(plan.entries.map((entry) => entry.label)).toEqual(['bi214-paper', 'from-option']);
  });
});

describe('a request without a label, submitted', () => {
  let label = '';
  let dir = '';

  it('is written under its label, printed with the plan before writing and in the summary, into <label>.exactly', async () => {
    ({ dir } = copyOfExample('run-numbers.json'));
    const first = await runGasp(['submit', 'run-numbers.json'], { cwd: dir, env: env() });
    expect(first.code).toBe(0);
    label =
      /^label (run-numbers-[0-9a-f]{8}) for the entries that name none \(made from the file name and the request id; --label L names them\)$/m.exec(
        first.stdout,
      )?.[1] ?? '';
    expect(label).not.toBe('');
    const lines = first.stdout.split('\n');
    expect(lines.slice(1, 6)).toEqual([
      `label ${label} for the entries that name none (made from the file name and the request id; --label L names them)`,
      `plan: 4 jobs, label ${label}`,
      `  WaterBi214Run, label ${label}: 2 jobs`,
      `  WaterBi214_ExwaterRun, label ${label}: 2 jobs`,
      `writing 4 jobs to ${test.db.name}; Ctrl-C stops after the current batch, and running the same command again completes it`,
    ]);
    expect(first.stdout).toContain(`submitted 4 jobs to ${test.db.name}, label ${label}\n`);
    expect(first.stdout).toContain(`${label}.exactly: 4 jobs added, 4 in all\n`);
    expect(readFileSync(join(dir, `${label}.exactly`), 'utf8')).toBe(
      'WaterBi214Run\t100151\t1\nWaterBi214Run\t100152\t1\nWaterBi214_ExwaterRun\t100151\t1\nWaterBi214_ExwaterRun\t100152\t1\n',
    );
  });

  it('is found by gasp exactly --label and gasp summary --label under that label', async () => {
    const exactly = await runGasp(['exactly', '--label', label, '-o', '-'], { env: env() });
    expect(exactly.code).toBe(0);
    expect(exactly.stdout).toBe(readFileSync(join(dir, `${label}.exactly`), 'utf8'));
    const summary = await runGasp(['summary', '--label', label, '--json'], { env: env() });
    expect(summary.code).toBe(0);
    expect(JSON.parse(summary.stdout)).toMatchObject({
      scope: `label ${label}`,
      passes: 4,
      byStatus: { waiting: 4 },
      byModule: { WaterBi214Run: { waiting: 2 }, WaterBi214_ExwaterRun: { waiting: 2 } },
    });
  });

  it('keeps its label when submitted again, even from a renamed copy: already submitted, no second label', async () => {
    const again = await runGasp(['submit', 'run-numbers.json'], { cwd: dir, env: env() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `already submitted: all 4 jobs are in ${test.db.name}, label ${label}; nothing written`,
    );
    copyFileSync(join(dir, 'run-numbers.json'), join(dir, 'renamed.json'));
    const renamed = await runGasp(['submit', 'renamed.json'], { cwd: dir, env: env() });
    expect(renamed.code).toBe(0);
    expect(renamed.stdout).toContain(
      `label ${label} for the entries that name none (the one this request was first submitted with)`,
    );
    expect(renamed.stdout).toContain(
      `already submitted: all 4 jobs are in ${test.db.name}, label ${label}; nothing written`,
    );
    const summary = JSON.parse(
      (await runGasp(['summary', '--module', 'WaterBi214*', '--json'], { env: env() })).stdout,
    ) as { passes: number };
    expect(summary.passes).toBe(4);
  });

  it('refuses another --label for it (exit 2, nothing written), and takes one with --new-pass', async () => {
    const before = (await test.db.info()).doc_count;
    const refused = await runGasp(['submit', 'run-numbers.json', '--label', 'other'], { cwd: dir, env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(
      new RegExp(
        `^--label: request req-[0-9a-f]{16} \\(run-numbers\\.json\\) was submitted with label ${label}; leave --label out to complete it under ${label}, or add --new-pass for another pass of its jobs labelled other$`,
      ),
    );
    expect((await test.db.info()).doc_count).toBe(before);
    const newPass = await runGasp(['submit', 'run-numbers.json', '--label', 'other', '--new-pass'], {
      cwd: dir,
      env: env(),
    });
    expect(newPass.code).toBe(0);
    expect(readFileSync(join(dir, 'other.exactly'), 'utf8')).toBe(
      'WaterBi214Run\t100151\t2\nWaterBi214Run\t100152\t2\nWaterBi214_ExwaterRun\t100151\t2\nWaterBi214_ExwaterRun\t100152\t2\n',
    );
  });

  it('refuses a --label that is not a label with exit 2', async () => {
    const result = await runGasp(['submit', 'run-numbers.json', '--label', 'a/b'], { cwd: dir, env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('--label: "a/b" is not a label (expected letters, digits, _ . + -)');
  });
});

describe('the generated label', () => {
  it.each([
    ['jobs.json', 'req-3f9a2c1b00112233', 'jobs-3f9a2c1b'],
    ['filelist.js', 'req-0123456789abcdef', 'filelist-01234567'],
    ['/data/requests/Bi214 request (v2).json', 'req-aaaaaaaabbbbbbbb', 'Bi214_request_v2-aaaaaaaa'],
    ['-.json', 'req-aaaaaaaabbbbbbbb', 'request-aaaaaaaa'],
    ['.json', 'req-aaaaaaaabbbbbbbb', 'request-aaaaaaaa'],
    ['日本語.json', 'req-aaaaaaaabbbbbbbb', 'request-aaaaaaaa'],
    [`${'x'.repeat(300)}.json`, 'req-aaaaaaaabbbbbbbb', `${'x'.repeat(40)}-aaaaaaaa`],
  ])('%s, request %s: %s, a label and a file name', (file, requestId, expected) => {
    const label = generatedLabel(file, requestId);
    expect(label).toBe(expected);
    expect(LABEL.test(label)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'gasp-label-file-'));
    writeFileSync(join(dir, `${label}.exactly`), '');
    expect(existsSync(join(dir, `${label}.exactly`))).toBe(true);
  });

  it('hashes a --request-id the user chose (which may hold anything) into 8 hex digits', () => {
    expect(generatedLabel('jobs.json', 'my request/with spaces')).toMatch(/^jobs-[0-9a-f]{8}$/);
    expect(generatedLabel('jobs.json', 'my request/with spaces')).toBe(
      generatedLabel('jobs.json', 'my request/with spaces'),
    );
    expect(generatedLabel('jobs.json', 'my request/with spaces')).not.toBe(generatedLabel('jobs.json', 'another'));
  });

  it('is the problem-free path: a request without any label still reports its other problems all at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-labels-'));
    const file = join(dir, 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({ rat_v: '6.3.2', modules: [{ module: 'WaterBi214Rum', n_runs: 1, run_numbers: [1] }] }),
    );
    const error = await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      `${file}: modules[0].module: no module "WaterBi214Rum" in production information 6.3.2 (did you mean "WaterBi214Run"?)`,
    ]);
  });
});

describe('every tool finds the passes of a generated label', () => {
  const db: Database = testCouch({ retry: { attempts: 5, baseMs: 50, maxMs: 200 } }).use(uniqueName('labels-chain'));
  afterAll(async () => {
    await db.destroy();
  });

  it('submit, run them, then grab, exactly, summary and the dashboard find them', async () => {
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(INFO);
    const dir = mkdtempSync(join(tmpdir(), 'gasp-labels-chain-'));
    writeFileSync(
      join(dir, 'po210.json'),
      JSON.stringify({
        rat_v: '7.0.8',
        modules: [{ module: 'PartialPo210', n_ev: 20, ev_per_run: 10, template: { fill_volume: 'lower' } }],
      }),
    );
    const chainEnv = couchEnv(db.name);
    const submitted = await runGasp(['submit', 'po210.json', '--json'], { cwd: dir, env: chainEnv });
    expect(submitted.code).toBe(0);
    const { requestId, jobs: written } = JSON.parse(submitted.stdout) as {
      requestId: string;
      jobs: Array<{ label: string }>;
    };
    const label = `po210-${requestId.slice(4, 12)}`;
    expect(written.map((job) => job.label)).toEqual([label, label]);

    const ended = await runUntilEnded(
      context(db, 'local', new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 })),
    );
    expect(ended.flatMap((doc) => doc.passes.map((pass) => [pass.label, pass.status]))).toEqual([
      [label, 'completed'],
      [label, 'completed'],
    ]);

    const grabbed = await runGasp(['grab', '--label', label, '-d', join(dir, 'grabbed')], { env: chainEnv });
    expect(grabbed.code).toBe(0);
    expect(grabbed.stdout).toMatch(/^grab: \d+ fetched .*, 0 failed;/m);
    expect(
      readFileSync(join(dir, 'grabbed', 'catalogue.txt'), 'utf8')
        .trim()
        .split('\n').length,
    ).toBeGreaterThanOrEqual(2);
    const exactly = await runGasp(['exactly', '--label', label, '-o', '-'], { env: chainEnv });
    expect(exactly.stdout).toBe(readFileSync(join(dir, `${label}.exactly`), 'utf8'));
    expect(exactly.stdout.trim().split('\n')).toHaveLength(2);
    const summary = JSON.parse((await runGasp(['summary', '--label', label, '--json'], { env: chainEnv })).stdout) as {
      passes: number;
      byStatus: Record<string, number>;
    };
    expect(summary).toMatchObject({ passes: 2, byStatus: { completed: 2 } });
    const dashboard = await overview(db, 'production', 600);
    expect(dashboard.labels.map((row) => [row.label, row.passes, row.byStatus])).toEqual([
      [label, 2, { completed: 2 }],
    ]);
    expect((await jobs(db)).length).toBe(2);
  }, 120_000);
});
