import { basename } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { expecting, jsonPath, readJsonFile } from '../json-file.js';
import { processingInfoId } from '../model/documents.js';
import type { ProcessingInfoDoc } from '../model/documents.js';
import { RAT_VERSION } from '../sites/rat.js';
import { pythonPlace, readPythonInfo } from './processing-info-py.js';

export const PROCESSING_LEVELS = ['sub_run', 'run', 'run_zdab', 'run_root'] as const;

const names = (one: string, list: string) =>
  z.array(z.string({ error: expecting(one) }).min(1, { error: expecting(one) }), { error: expecting(list) });

const MODULE_KEYS = [
  'type',
  'level',
  'path',
  'outputs',
  'other_suffix',
  'ganga_outputs',
  'prerequisites',
  'raw_processor',
  'nhit_cut',
] as const;

const gangaOutput = z.strictObject(
  {
    call: z.string({ error: expecting('the name of a GangaSNOplus file class') }).min(1),
    args: z.record(z.string(), z.unknown(), { error: expecting('its key = value arguments') }),
  },
  { error: expecting('an output such as PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", …)') },
);

const moduleSchema = z.strictObject(
  {
    type: z.enum(['macro', 'script'], { error: expecting('macro (run by rat) | script (run by bash)') }).optional(),
    level: z.enum(PROCESSING_LEVELS, { error: expecting(PROCESSING_LEVELS.join(' | ')) }),
    path: z
      .string({ error: expecting('the macro path, relative to the release') })
      .min(1, { error: expecting('the macro path') }),
    outputs: names('a data type such as ratds', 'a list of data types such as ["ratds", "ntuple"]'),
    other_suffix: z
      .union([z.string(), z.record(z.string(), z.string())], {
        error: expecting('what the other_* files\' names add, such as "_scintFit"'),
      })
      .optional(),
    ganga_outputs: z
      .array(gangaOutput, { error: expecting('a list of outputs such as PGSQLFile(namePattern = "…", …)') })
      .optional(),
    prerequisites: names('a module name', 'a list of module names').default([]),
    raw_processor: z
      .boolean({ error: expecting('true or false: whether the module reads the raw data') })
      .default(false),
    nhit_cut: z
      .number({ error: expecting('a number of hits') })
      .min(0, { error: expecting('a number of hits') })
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key (expected ${MODULE_KEYS.join(', ')})`
        : expecting('an object')(issue),
  },
);

const fileSchema = z.strictObject(
  {
    rat_version: z
      .string({ error: expecting('a RAT version such as 7.0.8') })
      .regex(RAT_VERSION, { error: expecting('a RAT version such as 7.0.8') }),
    modules: z.record(z.string(), moduleSchema, { error: expecting('an object of module name → module') }),
    run_types: z.record(z.string(), names('a module name', 'a list of module names'), {
      error: expecting('an object of run type → module names'),
    }),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'unknown key (expected rat_version, modules, run_types)'
        : expecting('an object')(issue),
  },
);

/** Cycles among prerequisites, each as `A → B → A`. */
function cycles(prerequisites: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (name: string, trail: string[]) => {
    const at = trail.indexOf(name);
    if (at >= 0) {
      found.push([...trail.slice(at), name]);
      return;
    }
    if (done.has(name)) return;
    for (const next of prerequisites.get(name) ?? []) visit(next, [...trail, name]);
    done.add(name);
  };
  for (const name of prerequisites.keys()) visit(name, []);
  return found;
}

/** A problem at a path of the document; `at`: a deeper path whose line says where (a list's item). */
interface Problem {
  path: PropertyKey[];
  at?: PropertyKey[];
  message: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const textsOf = (value: unknown): Array<[string, number]> =>
  Array.isArray(value)
    ? value.flatMap((item: unknown, index) => (typeof item === 'string' ? [[item, index] as [string, number]] : []))
    : [];

/**
 * Prerequisites and run types naming modules that exist, and prerequisites that end. Read from the
 * file as given, so these problems are named with the schema's, not after them.
 */
function crossChecks(raw: unknown): Problem[] {
  const problems: Problem[] = [];
  if (!isRecord(raw) || !isRecord(raw.modules)) return problems;
  const modules = raw.modules;
  const known = `one of ${Object.keys(modules).join(', ')}`;
  const isModule = (name: string) => Object.hasOwn(modules, name);
  const prerequisitesOf = (name: string) => {
    const module = modules[name];
    return isRecord(module) ? textsOf(module.prerequisites) : [];
  };
  for (const name of Object.keys(modules)) {
    for (const [prerequisite, index] of prerequisitesOf(name)) {
      if (!isModule(prerequisite))
        problems.push({
          path: ['modules', name, 'prerequisites'],
          at: ['modules', name, 'prerequisites', index],
          message: `"${prerequisite}" is not a module (expected ${known})`,
        });
    }
  }
  const graph = new Map(
    Object.keys(modules).map((name) => [
      name,
      prerequisitesOf(name).flatMap(([other]) => (isModule(other) ? [other] : [])),
    ]),
  );
  for (const cycle of cycles(graph)) {
    problems.push({
      path: ['modules', cycle[0] ?? '', 'prerequisites'],
      message: `a cycle ${cycle.join(' → ')} (expected prerequisites that end)`,
    });
  }
  for (const [runType, members] of Object.entries(isRecord(raw.run_types) ? raw.run_types : {})) {
    for (const [member, index] of textsOf(members)) {
      if (!isModule(member))
        problems.push({
          path: ['run_types', runType],
          at: ['run_types', runType, index],
          message: `"${member}" is not a module (expected ${known})`,
        });
    }
  }
  return problems;
}

/** Zod's issues as problems, an unknown key each on its own. */
function schemaProblems(issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.flatMap((issue) =>
    (issue.code === 'unrecognized_keys' ? issue.keys : [undefined]).map((key) => ({
      path: [...issue.path, ...(key === undefined ? [] : [key])],
      message: issue.message,
    })),
  );
}

/** What a file holds before validation, and how to say where a path of it is. */
interface Source {
  raw: unknown;
  place: (path: readonly PropertyKey[], at?: readonly PropertyKey[]) => string;
  /** Problems found while reading it (Python syntax, unknown names). */
  problems: string[];
}

function readSource(file: string): Source {
  if (file.endsWith('.py')) {
    const { raw, lines, problems } = readPythonInfo(file);
    return { raw, problems, place: (path, at) => pythonPlace(file, lines, path, at) };
  }
  const raw = readJsonFile(file, 'a processing_information_<x>_<y>_<z>.json (or .py) file');
  return { raw, problems: [], place: (path) => (path.length === 0 ? file : `${file}: ${jsonPath(path)}`) };
}

/** The line a `FILE:LINE: …` problem names; 0 for one about the whole file. */
const lineOf = (file: string, problem: string) => Number(/^:(\d+)/.exec(problem.slice(file.length))?.[1] ?? 0);

/**
 * Reads and validates a processing-information file, `.json` or SNO+'s `.py`; throws InputError
 * listing every problem, each with its line in a `.py`.
 */
export function loadProcessingInfo(file: string): ProcessingInfoDoc {
  const source = readSource(file);
  const say = (problem: Problem) => `${source.place(problem.path, problem.at)}: ${problem.message}`;
  const parsed = fileSchema.safeParse(source.raw);
  // a value a syntax error left half-read can fail two checks the same way: say it once
  const problems = [
    ...new Set([
      ...source.problems,
      ...(parsed.success ? [] : schemaProblems(parsed.error.issues).map(say)),
      ...crossChecks(source.raw).map(say),
    ]),
  ];
  if (file.endsWith('.py')) problems.sort((a, b) => lineOf(file, a) - lineOf(file, b));
  if (!parsed.success) throw new InputError(problems);
  const info = parsed.data;
  const named = /^processing_information_(.+)\.json$/.exec(basename(file))?.[1];
  const id = processingInfoId(info.rat_version);
  if (named !== undefined && `processing_information_${named}` !== id) {
    problems.push(
      `${file}: rat_version: "${info.rat_version}" does not match the file name (expected ${named.replaceAll('_', '.')})`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    _id: id,
    type: 'processing_information',
    rat_version: info.rat_version,
    modules: info.modules,
    run_types: info.run_types,
  };
}
