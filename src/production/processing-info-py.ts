import { basename } from 'node:path';
import { readUserFile } from '../files.js';
import { jsonPath } from '../json-file.js';
import { parsePythonLiterals } from './python-literal.js';
import { toJsonValue, type LineMap } from './python-values.js';

/** The Python names of the file, by the name the document gives each. */
export const PYTHON_NAMES: Readonly<Record<string, string>> = {
  modules: 'processing_modules',
  run_types: 'modules_for_run_type',
};

const FILE_NAME = /^processing_information_(\d+)_(\d+)_(\d+)\.py$/;

/**
 * A processing_information_x_y_z.py as SNO+ writes it: `processing_modules = {…}` and
 * `modules_for_run_type = {…}`, read as data (see python-literal.ts), as the JSON form's object:
 * `{rat_version, modules, run_types}` with the version from the file name. `lines` gives the line
 * of every value by its path in that object; `problems` are whole lines.
 */
export function readPythonInfo(file: string): { raw: Record<string, unknown>; lines: LineMap; problems: string[] } {
  const text = readUserFile(file, 'a processing_information_<x>_<y>_<z>.py file');
  const { assignments, problems: found } = parsePythonLiterals(text);
  const problems = found.map((problem) => `${file}:${problem.line}:${problem.column}: ${problem.message}`);
  const raw: Record<string, unknown> = {};
  const lines: LineMap = new Map();
  const version = FILE_NAME.exec(basename(file));
  if (version === null)
    problems.unshift(
      `${file}: the file name gives the RAT version (expected processing_information_<x>_<y>_<z>.py, such as processing_information_6_0_1.py)`,
    );
  else raw.rat_version = version.slice(1).join('.');
  const byPython = new Map(Object.entries(PYTHON_NAMES).map(([key, python]) => [python, key]));
  const seen = new Set<string>();
  for (const assignment of assignments) {
    const key = byPython.get(assignment.name);
    if (key === undefined) {
      problems.push(
        `${file}:${assignment.line}: ${assignment.name}: unknown name (expected ${[...byPython.keys()].join(', ')})`,
      );
      continue;
    }
    if (seen.has(key)) {
      problems.push(`${file}:${assignment.line}: ${assignment.name}: given twice (expected it once)`);
      continue;
    }
    seen.add(key);
    raw[key] = toJsonValue(assignment.value, lines, [key]);
  }
  return { raw, lines, problems };
}

/**
 * `FILE:LINE: processing_modules.DQCSS.level`: where a problem at `path` of the document is in the
 * file, on the line of `at` (default: the path) or of the nearest value around it.
 */
export function pythonPlace(
  file: string,
  lines: LineMap,
  path: readonly PropertyKey[],
  at: readonly PropertyKey[] = path,
): string {
  let line: number | undefined;
  for (let length = at.length; line === undefined && length > 0; length--)
    line = lines.get(jsonPath(at.slice(0, length)));
  const [first, ...rest] = path;
  const shown = first === undefined ? '' : jsonPath([PYTHON_NAMES[String(first)] ?? first, ...rest]);
  return `${file}${line === undefined ? '' : `:${line}`}${shown === '' ? '' : `: ${shown}`}`;
}
