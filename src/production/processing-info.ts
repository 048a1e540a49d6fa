import { basename } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { describeJsonIssues, expecting, readJsonFile } from '../json-file.js';
import { processingInfoId } from '../model/documents.js';
import type { ProcessingInfoDoc } from '../model/documents.js';
import { RAT_VERSION } from '../sites/rat.js';

export const PROCESSING_LEVELS = ['sub_run', 'run', 'run_zdab', 'run_root'] as const;

const names = (one: string, list: string) =>
  z.array(z.string({ error: expecting(one) }).min(1, { error: expecting(one) }), { error: expecting(list) });

const moduleSchema = z.strictObject(
  {
    level: z.enum(PROCESSING_LEVELS, { error: expecting(PROCESSING_LEVELS.join(' | ')) }),
    path: z
      .string({ error: expecting('the macro path, relative to the release') })
      .min(1, { error: expecting('the macro path') }),
    outputs: names('a data type such as ratds', 'a list of data types such as ["ratds", "ntuple"]'),
    prerequisites: names('a module name', 'a list of module names').default([]),
    raw_processor: z
      .boolean({ error: expecting('true or false: whether the module reads the raw data') })
      .default(false),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'unknown key (expected level, path, outputs, prerequisites, raw_processor)'
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

/** Reads and validates a processing-information file; throws InputError listing every problem. */
export function loadProcessingInfo(file: string): ProcessingInfoDoc {
  const raw = readJsonFile(file, 'a processing_information_<x>_<y>_<z>.json file');
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(describeJsonIssues(file, parsed.error.issues));
  const info = parsed.data;
  const problems: string[] = [];
  const modules = Object.keys(info.modules);
  const known = `one of ${modules.join(', ')}`;
  for (const [name, module] of Object.entries(info.modules)) {
    for (const prerequisite of module.prerequisites) {
      if (!Object.hasOwn(info.modules, prerequisite))
        problems.push(`${file}: modules.${name}.prerequisites: "${prerequisite}" is not a module (expected ${known})`);
    }
  }
  const graph = new Map(
    Object.entries(info.modules).map(([name, module]) => [
      name,
      module.prerequisites.filter((other) => Object.hasOwn(info.modules, other)),
    ]),
  );
  for (const cycle of cycles(graph)) {
    problems.push(
      `${file}: modules.${cycle[0] ?? ''}.prerequisites: a cycle ${cycle.join(' → ')} (expected prerequisites that end)`,
    );
  }
  for (const [runType, members] of Object.entries(info.run_types)) {
    for (const member of members) {
      if (!Object.hasOwn(info.modules, member))
        problems.push(`${file}: run_types.${runType}: "${member}" is not a module (expected ${known})`);
    }
  }
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
