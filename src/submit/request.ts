import { z } from 'zod';
import { describeJsonIssues, expecting, readJsonFile } from '../json-file.js';
import { InputError } from '../errors.js';
import { readUserFile } from '../files.js';
import type { PolicyDoc } from '../model/policy.js';
import { policyFields, POLICY_KEYS } from '../config/policy-settings.js';
import { RAT_VERSION } from '../sites/rat.js';

/** Labels name `.exactly` files and select jobs, so they stay plain. */
export const LABEL = /^[A-Za-z0-9][\w.+-]*$/;

/** Adds the one-line problem with a label given as an option, if it is not one. */
export function checkLabel(option: string, label: string | undefined, problems: string[]): void {
  if (label !== undefined && !LABEL.test(label))
    problems.push(`${option}: "${label}" is not a label (expected letters, digits, _ . + -)`);
}
const LABEL_EXPECTED = 'a label of letters, digits, _ . + - such as mc-2026-bi214';

/** The SNO+ request form writes its numbers as JSON strings (`"n_runs": "565"`): a string that is just a number is that number. */
const asNumber = (value: unknown) =>
  typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
const positiveInteger = (what: string) =>
  z.preprocess(
    asNumber,
    z
      .number({ error: expecting(what) })
      .int({ error: expecting(what) })
      .positive({ error: expecting(what) }),
  );
const positiveNumber = (what: string) =>
  z.preprocess(asNumber, z.number({ error: expecting(what) }).positive({ error: expecting(what) }));

const ENTRY_KEYS = [
  'module',
  'label',
  'template',
  'priority',
  't_run',
  't_format',
  'n_runs',
  'n_ev',
  'ev_per_run',
  'run_numbers',
];

/** One element of `modules`: which fields it has decides its request format (see plan.ts). */
export const entrySchema = z.strictObject(
  {
    module: z
      .string({ error: expecting('a module name from the production information') })
      .min(1, { error: expecting('a module name') }),
    label: z
      .string({ error: expecting(LABEL_EXPECTED) })
      .regex(LABEL, { error: expecting(LABEL_EXPECTED) })
      .optional(),
    template: z
      .record(
        z.string(),
        z.union(
          [
            // a macro takes one command per line: a line break in a value would add commands of its own
            z
              .string()
              .regex(/^[^\r\n]*$/, { error: expecting('one line of text (a line break would add a macro command)') }),
            z.number(),
          ],
          { error: expecting('a string or a number') },
        ),
        { error: expecting('an object of template field → value') },
      )
      .optional(),
    priority: z
      .preprocess(
        asNumber,
        z.number({ error: expecting('a whole number') }).int({ error: expecting('a whole number') }),
      )
      .optional(),
    t_run: positiveNumber('the live time of one run, more than 0').optional(),
    t_format: z.string({ error: expecting('a time unit such as day, h, min or s') }).optional(),
    n_runs: positiveInteger('a whole number of runs, more than 0').optional(),
    n_ev: positiveInteger('a whole number of events, more than 0').optional(),
    ev_per_run: positiveInteger('a whole number of events per run, more than 0').optional(),
    run_numbers: z
      .array(
        z.preprocess(
          asNumber,
          z
            .number({ error: expecting('a run number') })
            .int({ error: expecting('a run number') })
            .nonnegative({ error: expecting('a run number') }),
        ),
        {
          error: expecting('a list of run numbers'),
        },
      )
      .min(1, { error: expecting('at least one run number') })
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key (expected ${ENTRY_KEYS.join(', ')})`
        : expecting('an object')(issue),
  },
);
export type RequestEntry = z.output<typeof entrySchema>;

const topSchema = z.strictObject(
  {
    rat_v: z
      .string({ error: expecting('a RAT version such as 7.0.8') })
      .regex(RAT_VERSION, { error: expecting('a RAT version such as 7.0.8') }),
    label: z
      .string({ error: expecting(LABEL_EXPECTED) })
      .regex(LABEL, { error: expecting(LABEL_EXPECTED) })
      .optional(),
    modules: z
      .array(z.unknown(), { error: expecting('a list of module requests') })
      .min(1, { error: expecting('at least one module request') }),
    policy: z
      .record(z.string(), z.unknown(), { error: expecting(`an object of ${POLICY_KEYS.join(', ')}`) })
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'unknown key (expected rat_v, label, modules, policy)'
        : expecting('an object')(issue),
  },
);

/** An entry that failed its shape check, kept so its module name can still be checked. */
export interface BrokenEntry {
  index: number;
  module?: string;
}

export interface JobsRequest {
  file: string;
  ratVersion: string;
  label?: string;
  /** Entries in file order; an entry that failed validation is undefined (its problems are reported). */
  entries: Array<RequestEntry | undefined>;
  /** Entries that failed their shape check: their module names are still checked. */
  broken: BrokenEntry[];
  /** The parsed JSON, for the request id. */
  raw: unknown;
  /** The failure policy for every label of the request (`policy` in jobs.json). */
  policy?: Partial<PolicyDoc>;
}

/**
 * Reads jobs.json and checks its shape: every problem, each with its path (`modules[3].n_ev`).
 * Returns the request and the problems; entries with problems are kept out of planning.
 */
export function readJobsRequest(file: string): { request?: JobsRequest; problems: string[] } {
  const raw = readJsonFile(file, 'a jobs.json request: {"rat_v", "label", "modules": [...]}');
  const top = topSchema.safeParse(raw);
  const problems = top.success ? [] : describeJsonIssues(file, top.error.issues);
  // the entries are checked even when the top level is wrong, so every problem shows at once
  const values =
    typeof raw === 'object' && raw !== null && Array.isArray((raw as { modules?: unknown }).modules)
      ? (raw as { modules: unknown[] }).modules
      : [];
  const broken: BrokenEntry[] = [];
  const entries = values.map((value, index) => {
    const entry = entrySchema.safeParse(value);
    if (entry.success) return entry.data;
    problems.push(...describeJsonIssues(file, entry.error.issues, ['modules', index]));
    const module = (value as { module?: unknown } | null)?.module;
    broken.push({ index, ...(typeof module === 'string' && { module }) });
    return undefined;
  });
  if (!top.success) return { problems };
  const policy =
    top.data.policy === undefined
      ? undefined
      : policyFields(top.data.policy, (key) => `${file}: policy.${key}`, problems);
  return {
    request: {
      file,
      ratVersion: top.data.rat_v,
      ...(top.data.label !== undefined && { label: top.data.label }),
      entries,
      broken,
      raw,
      ...(policy !== undefined && { policy }),
    },
    problems,
  };
}

/** A run list file: one run number per line; `#` comments and blank lines are ignored. */
export function readRunList(file: string): number[] {
  return parseRunList(readUserFile(file, 'a run list: one run number per line'), file);
}

export function parseRunList(text: string, file: string): number[] {
  const runs: number[] = [];
  const problems: string[] = [];
  const seen = new Map<number, number>();
  text.split(/\r?\n/).forEach((line, index) => {
    const content = line.replace(/#.*/, '').trim();
    if (content === '') return;
    if (!/^\d+$/.test(content)) {
      problems.push(`${file}:${index + 1}: "${content}" is not a run number (expected one run number per line)`);
      return;
    }
    const run = Number(content);
    const earlier = seen.get(run);
    if (earlier !== undefined)
      problems.push(
        `${file}:${index + 1}: run ${run} is listed again (first on line ${earlier}; expected each run once)`,
      );
    else runs.push(run);
    seen.set(run, earlier ?? index + 1);
  });
  if (problems.length > 0) throw new InputError(problems);
  if (runs.length === 0) throw new InputError([`${file}: has no run numbers (expected one run number per line)`]);
  return runs;
}
