import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { jobId, productionInfoId, type JobDoc, type Pass, type ProductionInfoDoc } from '../model/documents.js';
import { copy } from '../passes/transitions.js';
import { appendPasses, type PassToAdd } from './append.js';

export interface PassRefText {
  module: string;
  run: number;
  pass: number;
}

/** Adds an exact copy of a pass to its job; returns the source and the copy's pass number. Refuses (exit 2) when the macro changed since. */
export async function submitLike(
  db: Database,
  ref: PassRefText,
  options: { dryRun?: boolean } = {},
): Promise<{ source: Pass; pass: number }> {
  const where = `--like ${ref.module} ${ref.run} ${ref.pass}`;
  const doc = await db.find<JobDoc>(jobId(ref.module, ref.run));
  const source = doc?.passes.find((pass) => pass.pass === ref.pass);
  if (doc === undefined || source === undefined)
    throw new InputError([
      `${where}: no such pass in ${db.name} (expected MODULE RUN PASS of a job there; gasp show MODULE RUN lists its passes)`,
    ]);
  if (source.macro_sha256 !== undefined && source.level === undefined) {
    const info = await db.find<ProductionInfoDoc>(productionInfoId(source.rat_version));
    const now = info?.modules[ref.module]?.sha256;
    if (now !== source.macro_sha256) {
      const why =
        now === undefined
          ? `the production information of RAT ${source.rat_version} has no ${ref.module} now`
          : `its macro is no longer the one that pass ran (sha256 ${source.macro_sha256.slice(0, 12)}…, now ${now.slice(0, 12)}…)`;
      throw new InputError([
        `${where}: ${why}, so an exact copy cannot run (expected a new request through jobs.json)`,
      ]);
    }
  }
  const token = randomBytes(8).toString('hex');
  const addition: PassToAdd = {
    module: ref.module,
    run: ref.run,
    isOurs: (pass) => pass.like?.token === token,
    make: (number) => copy(source, { number, token }, new Date()),
  };
  await appendPasses(db, [addition], { ...(options.dryRun !== undefined && { dryRun: options.dryRun }) });
  return { source, pass: addition.placed?.pass ?? 0 };
}
