import { z } from 'zod';
import type { Database } from '../db/database.js';
import { InputError, UnavailableError } from '../errors.js';
import { describeJsonIssues, expecting } from '../json-file.js';
import { runId, type RunDoc } from '../model/documents.js';
import { fileNameOf } from '../model/storage-url.js';

const URL_EXPECTED = 'where jobs read the file: a file:// or root:// URL, with no user or password in it';

const runSchema = z.strictObject(
  {
    run: z
      .number({ error: expecting('a run number') })
      .int({ error: expecting('a run number') })
      .nonnegative({ error: expecting('a run number') }),
    run_type: z
      .string({ error: expecting('a run type such as Physics') })
      .min(1, { error: expecting('a run type such as Physics') }),
    subfiles: z
      .array(
        z
          .strictObject(
            {
              name: z
                .string({ error: expecting('the raw file name') })
                .min(1, { error: expecting('the raw file name') }),
              size: z
                .number({ error: expecting('the size in bytes') })
                .int({ error: expecting('the size in bytes') })
                .nonnegative({ error: expecting('the size in bytes') }),
              checksum: z
                .string({ error: expecting('a checksum such as adler32:0a1b2c3d') })
                .min(1, { error: expecting('a checksum') }),
              url: z
                .string({ error: expecting(URL_EXPECTED) })
                .regex(/^(file|x?root):\/\/[^@\s]+$/, { error: expecting(URL_EXPECTED) })
                .optional(),
            },
            {
              error: (issue) =>
                issue.code === 'unrecognized_keys'
                  ? 'unknown key (expected name, size, checksum, url)'
                  : expecting('{name, size, checksum}')(issue),
            },
          )
          .superRefine((file, ctx) => {
            // a job reads the url; gasp knows which subfiles a pass has by name: they must agree
            if (file.url !== undefined && fileNameOf(file.url) !== file.name)
              ctx.addIssue({
                code: 'custom',
                path: ['url'],
                message: `${file.url} does not end in the file's name ${file.name} (expected the URL of ${file.name})`,
              });
          }),
        { error: expecting('a list of raw subfiles') },
      )
      .min(1, { error: expecting('at least one raw subfile') }),
    complete: z.boolean({ error: expecting('true or false') }).optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'unknown key (expected run, run_type, subfiles, complete)'
        : expecting('{run, run_type, subfiles}')(issue),
  },
);

export type RunInput = z.output<typeof runSchema>;

/** Runs from parsed JSON (one run or a list): every problem at once, each with its path. */
export function parseRuns(raw: unknown, source: string): RunInput[] {
  const list = Array.isArray(raw) ? raw : [raw];
  const problems: string[] = [];
  const runs: RunInput[] = [];
  list.forEach((value, index) => {
    const parsed = runSchema.safeParse(value);
    if (parsed.success) runs.push(parsed.data);
    else problems.push(...describeJsonIssues(source, parsed.error.issues, Array.isArray(raw) ? [index] : []));
  });
  const seen = new Set<number>();
  for (const run of runs) {
    if (seen.has(run.run)) problems.push(`${source}: run ${run.run} is listed twice (expected each run once)`);
    seen.add(run.run);
  }
  if (problems.length > 0) throw new InputError(problems);
  return runs;
}

export type RunOutcome = 'added' | 'updated' | 'unchanged';

/** Registers runs: a new run is added, a changed one (more subfiles arrived) updated, the same one left alone. */
export async function addRuns(
  db: Database,
  runs: readonly RunInput[],
): Promise<Array<{ run: number; outcome: RunOutcome }>> {
  const ids = runs.map((run) => runId(run.run));
  const stored = new Map<string, RunDoc>();
  for (let start = 0; start < ids.length; start += 500) {
    const found = await db.allDocs<RunDoc>({ keys: ids.slice(start, start + 500), include_docs: true });
    for (const row of found.rows) if (row.doc) stored.set(row.doc._id, row.doc);
  }
  const outcomes: Array<{ run: number; outcome: RunOutcome }> = [];
  const writes: RunDoc[] = [];
  for (const run of runs) {
    const existing = stored.get(runId(run.run));
    const doc: RunDoc = {
      _id: runId(run.run),
      type: 'run',
      ...run,
      ...(existing?._rev !== undefined && { _rev: existing._rev }),
    };
    const same =
      existing !== undefined &&
      JSON.stringify([existing.run_type, existing.subfiles, existing.complete]) ===
        JSON.stringify([run.run_type, run.subfiles, run.complete]);
    outcomes.push({ run: run.run, outcome: same ? 'unchanged' : existing === undefined ? 'added' : 'updated' });
    if (!same) writes.push(doc);
  }
  for (let start = 0; start < writes.length; start += 500) {
    const answers = await db.bulkDocs(writes.slice(start, start + 500));
    const failed = answers.filter((answer) => !answer.ok);
    if (failed.length > 0) {
      const ids = failed.map((answer) => answer.id).join(', ');
      throw new UnavailableError(
        `${ids}: not written (another writer changed ${failed.length === 1 ? 'it' : 'them'} meanwhile); run the same command again`,
      );
    }
  }
  return outcomes;
}
