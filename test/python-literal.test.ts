import { describe, expect, it } from 'vitest';
import { parsePythonLiterals } from '../src/production/python-literal.js';
import { toJsonValue } from '../src/production/python-values.js';

/** Each assignment's value as JSON, and the problems as `LINE:COLUMN: message`. */
function read(text: string): { values: Record<string, unknown>; problems: string[] } {
  const { assignments, problems } = parsePythonLiterals(text);
  const values = Object.fromEntries(assignments.map((one) => [one.name, toJsonValue(one.value, new Map())]));
  return { values, problems: problems.map((problem) => `${problem.line}:${problem.column}: ${problem.message}`) };
}

describe('the Python literal reader', () => {
  it('reads curly quotes as straight ones, and every kind of string', () => {
    const { values, problems } = read(
      [
        'a = “double”',
        'b = ‘single’',
        `c = "it's" 'say "hi"' r'\\d+' u"\\t"`,
        "d = '''one\ntwo'''",
        'e = """x"""',
        'f = “mixed"',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({
      a: 'double',
      b: 'single',
      c: `it'ssay "hi"\\d+\t`,
      d: 'one\ntwo',
      e: 'x',
      f: 'mixed',
    });
  });

  it('reads numbers, signs, True, False and None', () => {
    const { values } = read('n = [1, -2, +3.5, 1e3, -0.25, 0x1f, 1_000, True, False, None]');
    expect(values.n).toEqual([1, -2, 3.5, 1000, -0.25, 31, 1000, true, false, null]);
  });

  it('reads set([...]) and {a, b} as lists without repeats, tuples as lists, and {} as a dict', () => {
    const { values, problems } = read(
      'a = set(["x", "y", "x"])\nb = {"p", "q"}\nc = ("t", 1)\nd = ("only")\ne = {}\nf = set()\ng = ("one",)',
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({ a: ['x', 'y'], b: ['p', 'q'], c: ['t', 1], d: 'only', e: {}, f: [], g: ['one'] });
  });

  it('keeps a call Name(key = value, …) as {call, args}', () => {
    const { values } = read('o = [PGSQLFile(namePattern = "CSS_*.ratdb",\n   passDefault = -1, version = 1)]');
    expect(values.o).toEqual([
      { call: 'PGSQLFile', args: { namePattern: 'CSS_*.ratdb', passDefault: -1, version: 1 } },
    ]);
  });

  it('skips imports and comments, and takes brackets, trailing commas and \\ across lines', () => {
    const { values, problems } = read(
      [
        'from GangaSNOplus.Lib.Files import (RATDBFile,',
        '    PGSQLFile)  # the outputs',
        'import os',
        '# a comment',
        'modules = {',
        '    "A": [1,',
        '          2,],  # trailing commas',
        '    # End of main run types',
        '    "B": {"x": 1,},',
        '}',
        'total = \\',
        '    3',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({ modules: { A: [1, 2], B: { x: 1 } }, total: 3 });
  });

  it('runs nothing: a name, an expression or a statement is a problem, not code', () => {
    const { problems } = read('a = os.system("rm -rf /")\nb = 1 + 2\nprint("hi")\nc = f"{a}"');
    expect(problems).toEqual([
      '1:5: os is a name, not a value (expected a literal: gasp runs no Python)',
      '1:7: "." after the value (expected the end of the statement)',
      '2:7: "+" after the value (expected the end of the statement)',
      '3:1: "print" (expected NAME = value, an import or a comment)',
      '4:5: a f-string (expected a plain string: f-strings are code, bytes are not text)',
    ]);
  });

  it('names every problem by line and column, reading on past each', () => {
    const { values, problems } = read(
      [
        'a = {"x": 1',
        '     "y": 2}', // a comma missing after 1
        'b = [1, 2', // never closed
        'c = {"k": 1, "k": 2}',
        'd = “no end',
        'e = [1, 2}',
        'f = {"x" 1}',
        'g = 3',
      ].join('\n'),
    );
    expect(problems).toEqual([
      '1:12: a comma is missing (expected , between items)',
      '3:5: this [ is never closed (expected ])',
      '4:14: "k" appears twice in one dict (expected each key once)',
      '5:5: a string with no closing quote (expected ” before the end of the line)',
      '6:10: } does not close the [ of line 6 (expected ])',
      '7:9: a colon is missing (expected key: value)',
    ]);
    // read on as if the comma and the bracket were there
    expect(values.a).toEqual({ x: 1, y: 2 });
    expect(values.b).toEqual([1, 2]);
    expect(values.g).toBe(3);
  });

  it('says where a value belongs but none is given', () => {
    expect(read('a = [1,, 2]\nb =').problems).toEqual([
      '1:8: "," where a value belongs (expected a string, number, list, dict, set, True, False, None or Name(key = value))',
      '2:4: "the end of the file" where a value belongs (expected a string, number, list, dict, set, True, False, None or Name(key = value))',
    ]);
  });

  it('records the line of each value by its path', () => {
    const { assignments } = parsePythonLiterals('m = {"A": {"level": "run",\n  "outputs": ["ratds"]}}');
    const lines = new Map<string, number>();
    toJsonValue(assignments[0]!.value, lines, ['modules']);
    expect(lines.get('modules.A.level')).toBe(1);
    expect(lines.get('modules.A.outputs[0]')).toBe(2);
  });
});
