import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ratArguments } from '../src/model/event-mode.js';
import { outputNaming, readMacro, suffixOf } from '../src/production/macro.js';
import { moduleName } from '../src/production/scan.js';

const INTERNAL = new Set(['solar', 'reacibd']);
const read = (lines: string[]) => readMacro(lines.join('\n'), 'x.mac', INTERNAL);

describe('module names', () => {
  it.each([
    ['teloaded/perylene/bi214.mac', 'TeloadedPeryleneBi214'],
    ['water/calibration/n16.mac', 'WaterN16'],
    ['scint/solar_b8.mac', 'ScintSolar_b8'],
    ['partial/a/calibration/b/po210.mac', 'PartialABPo210'],
  ])('%s is called %s', (path, name) => {
    expect(moduleName(path)).toBe(name);
  });
});

describe('reading a macro', () => {
  it('is time-based when it sets a rate or adds an internal-rate generator, and not for a commented line', () => {
    expect(read(['/generator/rate/set 5', '/rat/proclast outroot']).facts.rateBased).toBe(true);
    expect(read(['/generator/add solar B8:fill', '/rat/proclast outroot']).facts.rateBased).toBe(true);
    expect(read(['/generator/add decaychain Bi214:fill', '  # /generator/rate/set 5']).facts.rateBased).toBe(false);
  });

  it('names outputs by data type, a second of a kind as other_<kind> with its suffix', () => {
    const { facts, problems } = read([
      '/rat/proc outntuple',
      '/rat/procset file "${OUTPUT}.ntuple.root"',
      '/rat/proclast outroot',
      '/rat/proc outntuple',
      '/rat/procset file "${OUTPUT}_scintFit.ntuple.root"',
      '/rat/proc outsoc',
    ]);
    expect(problems).toEqual([]);
    expect(facts.outputs).toEqual(['ntuple', 'ratds', 'other_ntuple', 'soc']);
    expect(facts.otherSuffix).toEqual({ other_ntuple: '_scintFit' });
  });

  it('lists template fields once each, in order of first appearance, ignoring comments', () => {
    const { facts } = read(['# ${commented}', '/a ${b} ${a}', '/c ${b}${c}']);
    expect(facts.template).toEqual(['b', 'a', 'c']);
  });

  it('treats everything from a word starting with # as a comment, as Geant4 does', () => {
    const { facts, problems } = read([
      '/rat/proclast outroot # see ${NOTE}',
      '/rat/procset file "${OUTPUT}.root"',
      '/rat/proclast outroot',
      '/rat/procset file "${OUTPUT}_fit.root" # the fit',
      '/generator/add decaychain Bi214 # use ${ later',
    ]);
    expect(problems).toEqual([]);
    expect(facts.template).toEqual(['OUTPUT']);
    expect(facts.otherSuffix).toEqual({ other_ratds: '_fit' });
  });

  it('hashes the bytes on disk, whatever their encoding', () => {
    const latin1 = Buffer.from('/rat/proc outroot\n# caf\xe9\n', 'latin1');
    expect(readMacro(latin1, 'x.mac', INTERNAL).facts.sha256).toBe(createHash('sha256').update(latin1).digest('hex'));
  });

  it('reports an unclosed ${ with file and line', () => {
    expect(read(['/run/initialize', '/rat/db/set x ${geometry', '/rat/proc outroot']).problems).toEqual([
      'x.mac:2: unclosed "${" (expected ${name} on one line)',
    ]);
  });

  it('reports a third output of a kind', () => {
    expect(
      read(['/rat/proc outsoc', '/rat/proc outsoc', '/rat/procset file "a.root"', '/rat/proc outsoc']).problems,
    ).toEqual(['x.mac:4: a third outsoc processor (expected at most two of a kind: soc and other_soc)']);
  });

  it("says how each output is named: by its /rat/procset file, by rat's -o (one outroot file only), or not at all", () => {
    const naming = (lines: string[]) => outputNaming(read(lines).facts);
    expect(
      naming(['/rat/proclast outroot', '/rat/proclast outntuple', '/rat/procset file "${OUTPUT}.ntuple.root"']),
    ).toEqual({ naming: { ratds: 'command line', ntuple: 'macro' }, reasons: [] });
    // a /rat/procset file after another processor names nothing
    expect(naming(['/rat/proc outroot', '/rat/proc outroot', '/rat/proc count', '/rat/procset file "x.root"'])).toEqual(
      {
        naming: { ratds: 'command line', other_ratds: 'none' },
        reasons: [
          'line 2: the second outroot processor has no /rat/procset file (expected one naming the other_ratds file, such as "${OUTPUT}_fit.root")',
        ],
      },
    );
    expect(naming(['/rat/proc outsoc']).reasons).toEqual([
      'line 1: the outsoc processor has no /rat/procset file, and rat\'s command line names only the outroot file (expected /rat/procset file "${OUTPUT}.soc.root")',
    ]);
    expect(naming(['/rat/proc outntuple', '/rat/procset file "${OUTPUT}.root"']).reasons).toEqual([
      'line 1: its outntuple file is "${OUTPUT}.root" (expected "${OUTPUT}.ntuple.root", the name the job wrapper stages)',
    ]);
  });

  it('takes the suffix from the file name, without template fields and the ending', () => {
    expect(suffixOf('"${OUTPUT}_partial.root"', 'ratds')).toBe('_partial');
    expect(suffixOf("'out/${RUN}${OUTPUT}_fit.ntuple.root'", 'ntuple')).toBe('_fit');
  });
});

describe('RAT arguments for each event mode (the one table)', () => {
  it.each([
    ['run', { run: 300000 }, ['-r', '300000']],
    ['run_number', { run: 300000, events: 500 }, ['-n', '300000', '-N', '500']],
    ['time', { seconds: 3600 }, ['-T', '3600']],
    ['number', { events: 1000 }, ['-N', '1000']],
  ] as const)('%s → %j', (mode, amount, args) => {
    expect(ratArguments(mode, amount)).toEqual(args);
  });

  it('refuses an amount the mode cannot use', () => {
    expect(() => ratArguments('run_number', { run: 1 })).toThrow('event mode run_number needs events');
  });
});
