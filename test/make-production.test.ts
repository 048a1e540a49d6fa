import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { DEFAULT_INTERNAL_RATE_GENERATORS, DEFAULT_PHASES, type ProductionConfig } from '../src/config/config.js';
import type { ProductionInfoDoc } from '../src/model/documents.js';
import { storeInfoDoc } from '../src/production/info-store.js';
import { makeProductionInfo } from '../src/production/production-info.js';
import { runGasp } from './support/cli.js';
import { couchEnv, useTestDatabase } from './support/couch.js';
import { copyOfFixtureRelease, FIXTURE_RELEASE } from './support/fixture.js';

const test = useTestDatabase('production');
beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
});
const DEFAULTS: ProductionConfig = {
  phases: [...DEFAULT_PHASES],
  internalRateGenerators: [...DEFAULT_INTERNAL_RATE_GENERATORS],
  modeOverrides: [],
};

const sha256 = (path: string) =>
  createHash('sha256')
    .update(readFileSync(join(FIXTURE_RELEASE, path)))
    .digest('hex');

/** Written out by hand from the rules in the issue, macro by macro. */
const EXPECTED_MODULES = {
  PartialPo210: {
    path: 'mac/production/partial/po210.mac',
    phase: 'partial',
    event_mode: 'number',
    outputs: ['ratds'],
    output_naming: { ratds: 'macro' },
    template: ['OUTPUT', 'fill_volume', 'NEVENTS'],
  },
  ScintBipo214: {
    path: 'mac/production/scint/bipo214.mac',
    phase: 'scint',
    event_mode: 'number',
    outputs: ['ratds'],
    output_naming: { ratds: 'command line' }, // no /rat/procset file: rat's -o names it
    template: ['fill_volume', 'NEVENTS'],
  },
  ScintReactor: {
    path: 'mac/production/scint/reactor.mac',
    phase: 'scint',
    event_mode: 'time', // reacibd sets its own rate
    outputs: ['ntuple', 'soc'],
    output_naming: { ntuple: 'macro', soc: 'macro' },
    template: ['OUTPUT', 'spectrum'],
  },
  ScintSolar_b8: {
    path: 'mac/production/scint/solar_b8.mac',
    phase: 'scint',
    event_mode: 'time', // solar sets its own rate
    outputs: ['ratds'],
    output_naming: { ratds: 'macro' },
    template: ['OUTPUT'],
  },
  TeloadedPeryleneBi214: {
    path: 'mac/production/teloaded/perylene/bi214.mac',
    phase: 'teloaded',
    event_mode: 'number', // its /generator/rate/set line is a comment
    outputs: ['ratds', 'ntuple'],
    output_naming: { ratds: 'macro', ntuple: 'macro' },
    template: ['geometry', 'OUTPUT', 'fill_volume', 'NEVENTS'],
  },
  TeloadedTl208: {
    path: 'mac/production/teloaded/tl208.mac',
    phase: 'teloaded',
    event_mode: 'time',
    outputs: ['ratds', 'ntuple', 'other_ntuple'],
    other_suffix: { other_ntuple: '_scintFit' },
    output_naming: { ratds: 'macro', ntuple: 'macro', other_ntuple: 'macro' },
    template: ['geometry', 'OUTPUT', 'fill_volume', 'rate'],
  },
  WaterN16: {
    path: 'mac/production/water/calibration/n16.mac',
    phase: 'water',
    event_mode: 'time',
    outputs: ['ratds'],
    output_naming: { ratds: 'macro' },
    template: ['x', 'y', 'z', 'OUTPUT'],
  },
};

const withHashes = Object.fromEntries(
  Object.entries(EXPECTED_MODULES).map(([name, module]) => [name, { ...module, sha256: sha256(module.path) }]),
);

describe('production information for the fixture release', () => {
  it('has one entry per macro with outputs, as the rules give them', () => {
    const made = makeProductionInfo({ ratDir: FIXTURE_RELEASE, production: DEFAULTS });
    expect(made.version).toEqual({ version: '7.0.8', source: join(FIXTURE_RELEASE, 'VERSION') });
    expect(made.doc._id).toBe('production_information_7_0_8');
    expect(made.doc.modules).toEqual(withHashes);
    expect(made.macrosRead).toBe(8);
    expect(made.warnings).toEqual([
      `${join(FIXTURE_RELEASE, 'mac/production/water/geometry_test.mac')}: adds no output processor (outroot, outntuple, outsoc); left out`,
    ]);
  });

  it('takes run and run_number from [production.modes], the first matching glob winning', () => {
    const made = makeProductionInfo({
      ratDir: FIXTURE_RELEASE,
      production: {
        ...DEFAULTS,
        modeOverrides: [
          { pattern: 'Water*', mode: 'run' },
          { pattern: '*', mode: 'run_number' },
        ],
      },
    });
    expect(made.doc.modules.WaterN16?.event_mode).toBe('run');
    expect(made.doc.modules.PartialPo210?.event_mode).toBe('run_number');
  });

  it('lets --version win, and reads the version from the folder name when there is no VERSION file', () => {
    const copy = copyOfFixtureRelease();
    rmSync(join(copy, 'VERSION'));
    expect(makeProductionInfo({ ratDir: copy, production: DEFAULTS }).version.source).toBe('folder name rat-7.0.8');
    expect(makeProductionInfo({ ratDir: copy, version: '7.0.9', production: DEFAULTS }).doc._id).toBe(
      'production_information_7_0_9',
    );
  });
});

describe('gasp make-production', () => {
  const env = () => couchEnv(test.db.name);

  it('writes the documented file and uploads it; a second upload says "unchanged"', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const first = await runGasp(['make-production', FIXTURE_RELEASE, '--upload'], { cwd: out, env: env() });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('wrote production_information_7_0_8.json');
    expect(first.stdout).toContain(`${test.db.name} production_information_7_0_8: created`);
    const written = JSON.parse(
      readFileSync(join(out, 'production_information_7_0_8.json'), 'utf8'),
    ) as ProductionInfoDoc;
    expect(written).toEqual({
      _id: 'production_information_7_0_8',
      type: 'production_information',
      rat_version: '7.0.8',
      modules: withHashes,
    });
    const stored = await test.db.get<ProductionInfoDoc>('production_information_7_0_8');
    expect(stored.modules).toEqual(withHashes);
    const second = await runGasp(['make-production', FIXTURE_RELEASE, '--upload'], { cwd: out, env: env() });
    expect(second.stdout).toContain(`${test.db.name} production_information_7_0_8: unchanged`);
    expect((await test.db.get('production_information_7_0_8'))._rev).toBe(stored._rev);
    const listed = await runGasp(['production-info', 'list'], { env: env() });
    expect(listed.stdout.trim()).toBe('7.0.8  7 modules  (production_information_7_0_8)');
    const shown = await runGasp(['production-info', 'show', '7.0.8', '--module', 'WaterN16'], { env: env() });
    expect(JSON.parse(shown.stdout)).toEqual({ WaterN16: withHashes.WaterN16 });
  });

  it('writes the document to standard output with -o -, says the rest on stderr, and makes no file named -', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const result = await runGasp(['make-production', FIXTURE_RELEASE, '-o', '-'], { cwd: out });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      _id: 'production_information_7_0_8',
      type: 'production_information',
      rat_version: '7.0.8',
      modules: withHashes,
    });
    expect(result.stderr).toContain('read 8 macros: 7 modules');
    expect(existsSync(join(out, '-'))).toBe(false);
  });

  it('shows exactly the changed module in the diff; --dry-run writes nothing', async () => {
    const copy = copyOfFixtureRelease();
    const made = makeProductionInfo({ ratDir: copy, version: '7.0.9', production: DEFAULTS });
    const first = await storeInfoDoc(test.db, made.doc);
    expect(first.outcome).toBe('created');
    const macro = join(copy, 'mac/production/teloaded/tl208.mac');
    writeFileSync(
      macro,
      readFileSync(macro, 'utf8').replace(
        '/generator/rate/set ${rate}',
        '/generator/rate/set ${rate}\n/rat/db/set X ${seed}',
      ),
    );
    const changed = makeProductionInfo({ ratDir: copy, version: '7.0.9', production: DEFAULTS });
    const dry = await storeInfoDoc(test.db, changed.doc, { dryRun: true });
    expect(dry).toEqual({
      outcome: 'updated',
      diff: { added: [], removed: [], changed: { TeloadedTl208: ['sha256', 'template'] } },
    });

    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const cli = await runGasp(['make-production', copy, '--upload', '--dry-run', '--version', '7.0.9'], {
      cwd: out,
      env: env(),
    });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(
      'production_information_7_0_9: would be updated\n  ~ TeloadedTl208 (sha256, template)\n',
    );
    expect(existsSync(join(out, 'production_information_7_0_9.json'))).toBe(false);
    expect((await test.db.get('production_information_7_0_9'))._rev).toBe(first.rev);

    const stored = await storeInfoDoc(test.db, changed.doc);
    expect(stored.outcome).toBe('updated');
    expect(stored.rev?.startsWith('2-')).toBe(true);
  });

  it('lists modules added and removed', async () => {
    const copy = copyOfFixtureRelease();
    const before = makeProductionInfo({ ratDir: copy, version: '7.0.10', production: DEFAULTS });
    await storeInfoDoc(test.db, before.doc);
    rmSync(join(copy, 'mac/production/partial/po210.mac'));
    writeFileSync(join(copy, 'mac/production/partial/bi210.mac'), '/rat/proc outroot\n');
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const cli = await runGasp(['make-production', copy, '--upload', '--version', '7.0.10'], { cwd: out, env: env() });
    expect(cli.stdout).toContain('production_information_7_0_10: updated\n  + PartialBi210\n  - PartialPo210\n');
  });

  it('scans --phase folders and treats --internal-rate generators as rate-based, this time only', async () => {
    const copy = copyOfFixtureRelease();
    mkdirSync(join(copy, 'mac/production/bismsb'));
    writeFileSync(join(copy, 'mac/production/bismsb/alpha.mac'), '/rat/proc outroot\n/generator/add alphan fill\n');
    const plain = makeProductionInfo({ ratDir: copy, production: DEFAULTS });
    expect(plain.doc.modules.BismsbAlpha).toBeUndefined();
    const more = makeProductionInfo({
      ratDir: copy,
      production: DEFAULTS,
      extraPhases: ['bismsb'],
      extraInternalRate: ['alphan'],
    });
    expect(more.doc.modules.BismsbAlpha?.event_mode).toBe('time');
  });

  it('follows a symbolic link to a subfolder, and a link loop ends', () => {
    const copy = copyOfFixtureRelease();
    renameSync(join(copy, 'mac/production/teloaded/perylene'), join(copy, 'perylene-elsewhere'));
    symlinkSync(join(copy, 'perylene-elsewhere'), join(copy, 'mac/production/teloaded/perylene'));
    symlinkSync(join(copy, 'mac/production/water'), join(copy, 'mac/production/water/loop'));
    const made = makeProductionInfo({ ratDir: copy, production: DEFAULTS });
    expect(made.doc.modules.TeloadedPeryleneBi214?.path).toBe('mac/production/teloaded/perylene/bi214.mac');
    expect(Object.keys(made.doc.modules)).toHaveLength(7);
  });

  it('records how each output is named, and warns at once about a module whose outputs cannot be named, keeping it for submit to refuse', async () => {
    const copy = copyOfFixtureRelease();
    const write = (name: string, lines: string[]) =>
      writeFileSync(join(copy, 'mac/production/water', name), `${lines.join('\n')}\n`);
    write('ntuple_only.mac', ['/run/initialize', '/rat/proclast outntuple', '/rat/run/start']);
    write('two_roots.mac', ['/rat/proc outroot', '/rat/proclast outroot']);
    write('fixed_name.mac', ['/rat/proclast outroot', '/rat/procset file "out.root"']);
    write('root_and_named_ntuple.mac', [
      '/rat/proclast outroot',
      '/rat/proclast outntuple',
      '/rat/procset file "${OUTPUT}.ntuple.root"',
    ]);
    const made = makeProductionInfo({ ratDir: copy, production: DEFAULTS });
    const { modules } = made.doc;
    expect(modules.WaterRoot_and_named_ntuple).toMatchObject({
      output_naming: { ratds: 'command line', ntuple: 'macro' },
    });
    expect(modules.WaterRoot_and_named_ntuple?.unnameable).toBeUndefined();
    expect(modules.WaterNtuple_only).toMatchObject({ output_naming: { ntuple: 'none' } });
    expect(modules.WaterTwo_roots).toMatchObject({ output_naming: { ratds: 'command line', other_ratds: 'none' } });
    expect(modules.WaterFixed_name).toMatchObject({ output_naming: { ratds: 'none' } });
    const warning = (name: string, module: string) =>
      made.warnings.find((line) =>
        line.startsWith(`${join(copy, 'mac/production/water', name)}: module ${module}: its outputs cannot be named`),
      );
    expect(warning('ntuple_only.mac', 'WaterNtuple_only')).toMatch(
      /line 2: the outntuple processor has no \/rat\/procset file, and rat's command line names only the outroot file \(expected \/rat\/procset file "\$\{OUTPUT\}\.ntuple\.root"\)$/,
    );
    expect(warning('two_roots.mac', 'WaterTwo_roots')).toMatch(
      /line 2: the second outroot processor has no \/rat\/procset file/,
    );
    expect(warning('fixed_name.mac', 'WaterFixed_name')).toMatch(
      /line 1: its outroot file is "out\.root" \(expected "\$\{OUTPUT\}\.root", the name the job wrapper stages\)$/,
    );
    expect(modules.WaterNtuple_only?.unnameable).toContain('the outntuple processor has no /rat/procset file');
    expect(made.warnings.filter((line) => line.includes('cannot be named'))).toHaveLength(3);

    // the command says it at once, on stderr, and still writes the document
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const cli = await runGasp(['make-production', copy], { cwd: out });
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain('module WaterNtuple_only: its outputs cannot be named');
    expect(cli.stdout).toMatch(/^ {2}WaterNtuple_only +number +ntuple \(cannot be named\)/m);
    expect(cli.stdout).toMatch(/^ {2}ScintBipo214 +number +ratds \(command line\)/m);
  });

  it('warns about a [production.modes] glob that matches no module', () => {
    const made = makeProductionInfo({
      ratDir: FIXTURE_RELEASE,
      production: { ...DEFAULTS, modeOverrides: [{ pattern: 'teloaded*', mode: 'run' }] },
    });
    expect(made.warnings).toContain(
      '[production.modes] teloaded*: matches no module (module names are case-sensitive, such as TeloadedTl208)',
    );
  });
});

describe('bad input to make-production', () => {
  const cases: Array<[string, (release: string) => void, string]> = [
    [
      'a missing release',
      (release) => rmSync(release, { recursive: true }),
      '{R}: no such folder (expected a RAT release, such as $RATROOT)',
    ],
    [
      'no mac/production',
      (release) => rmSync(join(release, 'mac/production'), { recursive: true }),
      "{R}/mac/production: no such folder (expected the release's production macros there)",
    ],
    [
      'none of the phases',
      (release) => {
        for (const phase of DEFAULT_PHASES) rmSync(join(release, 'mac/production', phase), { recursive: true });
        mkdirSync(join(release, 'mac/production/bismsb'));
      },
      '{R}/mac/production: has none of the phases teloaded, scint, water, partial (expected a folder per phase; see [production] phases)',
    ],
    [
      'an unreadable macro',
      (release) => symlinkSync('/nonexistent', join(release, 'mac/production/water/broken.mac')),
      '{R}/mac/production/water/broken.mac: cannot be read (ENOENT) (expected a readable macro)',
    ],
    [
      'two macros with one module name',
      (release) => writeFileSync(join(release, 'mac/production/water/n16.mac'), '/rat/proc outroot\n'),
      '{R}/mac/production/water/n16.mac: gives the module name WaterN16, as {R}/mac/production/water/calibration/n16.mac does (expected one macro per module name)',
    ],
    [
      'an unclosed template field',
      (release) =>
        writeFileSync(
          join(release, 'mac/production/partial/po210.mac'),
          '/run/initialize\n/rat/proc outroot\n/generator/pos/set ${fill\n',
        ),
      '{R}/mac/production/partial/po210.mac:3: unclosed "${" (expected ${name} on one line)',
    ],
    [
      'an unknown version format',
      (release) => writeFileSync(join(release, 'VERSION'), 'seven\n'),
      '{R}/VERSION: "seven" is not a RAT version (expected x.y.z such as 7.0.8, or pass --version)',
    ],
    [
      'a phase that is a file',
      (release) => {
        rmSync(join(release, 'mac/production/water'), { recursive: true });
        writeFileSync(join(release, 'mac/production/water'), 'not a folder');
        for (const phase of ['teloaded', 'scint', 'partial'])
          rmSync(join(release, 'mac/production', phase), { recursive: true });
      },
      '{R}/mac/production: has none of the phases teloaded, scint, water, partial (expected a folder per phase; see [production] phases)',
    ],
    [
      'VERSION that is a folder',
      (release) => {
        rmSync(join(release, 'VERSION'));
        mkdirSync(join(release, 'VERSION'));
      },
      "{R}/VERSION: cannot be read (EISDIR) (expected the release's version, or pass --version)",
    ],
    [
      'an empty second-output suffix',
      (release) =>
        writeFileSync(
          join(release, 'mac/production/partial/po210.mac'),
          '/rat/proc outroot\n/rat/procset file "${OUTPUT}.root"\n/rat/proc outroot\n/rat/procset file "${OUTPUT}.root"\n',
        ),
      '{R}/mac/production/partial/po210.mac:4: the second ratds file adds nothing to the name (expected a suffix such as ${OUTPUT}_fit)',
    ],
  ];

  it.each(cases)('%s: one line naming the path, exit 2, nothing written', async (_name, breakIt, expected) => {
    const release = copyOfFixtureRelease();
    breakIt(release);
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const result = await runGasp(['make-production', release, '--upload'], {
      cwd: out,
      env: { GASP_COUCHDB_URL: 'http://127.0.0.1:9' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(expected.replaceAll('{R}', release));
    expect(existsSync(join(out, 'production_information_7_0_8.json'))).toBe(false);
  });

  it('warns about one missing phase and scans the others', async () => {
    const release = copyOfFixtureRelease();
    rmSync(join(release, 'mac/production/partial'), { recursive: true });
    const out = mkdtempSync(join(tmpdir(), 'gasp-out-'));
    const result = await runGasp(['make-production', release], { cwd: out });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `${join(release, 'mac/production/partial')}: phase folder not found; scanning the others`,
    );
    expect(result.stdout).toContain('read 7 macros: 6 modules');
  });

  it('names a missing release folder whatever its name, and an empty RATDIR', async () => {
    const missing = await runGasp(['make-production', '/nonexistent/nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('/nonexistent/nope: no such folder (expected a RAT release, such as $RATROOT)');
    const empty = await runGasp(['make-production', '']);
    expect(empty.stderr.trim()).toBe('RATDIR: is empty (expected a RAT release folder, such as $RATROOT)');
  });

  it('refuses --phase .. and -o into a missing folder with exit 2', async () => {
    const phase = await runGasp(['make-production', FIXTURE_RELEASE, '--phase', '..']);
    expect(phase.code).toBe(2);
    expect(phase.stderr.trim()).toBe(
      '--phase: ".." is not a phase folder name (expected one folder name such as water)',
    );
    const output = await runGasp(['make-production', FIXTURE_RELEASE, '-o', '/nonexistent/x.json']);
    expect(output.code).toBe(2);
    expect(output.stderr.trim()).toBe(
      '-o: the folder of "/nonexistent/x.json" does not exist (expected a file in an existing folder)',
    );
  });

  it('refuses a bad --version with exit 2', async () => {
    const result = await runGasp(['make-production', FIXTURE_RELEASE, '--version', 'latest']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('--version: "latest" is not a RAT version (expected x.y.z such as 7.0.8)');
  });
});
