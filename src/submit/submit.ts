import type { Database } from '../db/database.js';
import { ConflictError, NotFoundError } from '../db/errors.js';
import { policyId, type PolicyDoc } from '../model/policy.js';
import { InputError } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import { productionInfoId, type ProductionInfoDoc } from '../model/documents.js';
import { planRequest, requestId, type PlanOptions, type SubmitPlan } from './plan.js';
import { earlierLabel, generatedLabel, unlabelledEntries } from './label.js';
import { readJobsRequest, readRunList, type JobsRequest } from './request.js';
import { submitPlan, type SubmitResult, type WriteStart } from './write.js';

export interface SubmitRequestOptions {
  /** -L: a run list file for run-by-run entries without run_numbers. */
  runListFile?: string;
  ratdbTag?: string;
  priority?: number;
  requestId?: string;
  newPass?: boolean;
  dryRun?: boolean;
  /** Read production information from this file (make-production's output) instead of the database. */
  infoFile?: string;
  onProgress?: (done: number, total: number) => void | Promise<void>;
  batchSize?: number;
  /** --label: the label of entries for which the file names none (the file's labels win). */
  label?: string;
  /** Called with the validated plan before anything is written: a place to refuse (a bad output file) and to show it. */
  beforeWrite?: (plan: SubmitPlan, request: PlannedRequest) => void;
  /** Called before the first write, once what an earlier run wrote is known. */
  onStart?: (start: WriteStart) => void;
  /** Aborted (Ctrl-C): the batch being written completes, then it stops with an InterruptedError. */
  signal?: AbortSignal;
}

/** Where the label of the entries without one in the file came from. */
export interface DefaultLabel {
  label: string;
  from: 'option' | 'earlier' | 'generated';
}

export interface PlannedRequest {
  requestId: string;
  /** Set when some entry names no label (nor does the top level). */
  defaultLabel?: DefaultLabel;
}

async function productionInfo(
  db: Database,
  file: string,
  version: string,
  infoFile?: string,
): Promise<ProductionInfoDoc | string> {
  if (infoFile !== undefined) {
    const doc = readJsonFile(infoFile, 'a production_information_<x>_<y>_<z>.json file') as Partial<ProductionInfoDoc>;
    if (doc.type !== 'production_information' || typeof doc.modules !== 'object') {
      throw new InputError([`${infoFile}: is not production information (expected the file make-production writes)`]);
    }
    if (doc.rat_version !== version)
      return `${file}: rat_v: "${version}" is not the version of ${infoFile} (${String(doc.rat_version)})`;
    return doc as ProductionInfoDoc;
  }
  try {
    return await db.get<ProductionInfoDoc>(productionInfoId(version));
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return `${file}: rat_v: no production information for RAT ${version} in ${db.name} (expected gasp make-production --upload for that release first)`;
  }
}

/** Sets these policy fields on each label's policy document, keeping the rest (a pause stays); with `keep`, only fields it does not have yet. */
export async function writePolicies(
  db: Database,
  labels: ReadonlySet<string>,
  fields: Partial<PolicyDoc>,
  { keep = false } = {},
): Promise<PolicyDoc[]> {
  const written: PolicyDoc[] = [];
  for (const label of labels) {
    for (;;) {
      const stored = await db.find<PolicyDoc>(policyId(label));
      const base = stored ?? { _id: policyId(label), type: 'policy' as const, label };
      const next: PolicyDoc = keep ? { ...fields, ...base } : { ...base, ...fields };
      try {
        next._rev = (await db.put(next)).rev;
        written.push(next);
        break;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
  }
  return written;
}

/** Problems in the order of the file's entries (a stable sort keeps each entry's own order). */
function byEntry(problems: string[]): string[] {
  const entryOf = (line: string) => Number(/: modules\[(\d+)\]/.exec(line)?.[1] ?? -1);
  return [...problems].sort((a, b) => entryOf(a) - entryOf(b));
}

/**
 * The label of the entries that name none: --label; else the one an earlier submit of the request
 * gave them (so a rerun completes it even after a rename); else one made from the file name and
 * the request id. A --label unlike the earlier one is refused unless it labels a new pass.
 */
async function defaultLabel(
  db: Database,
  request: JobsRequest,
  requestId: string,
  options: SubmitRequestOptions,
): Promise<DefaultLabel | undefined> {
  const [first] = unlabelledEntries(request);
  if (first === undefined) return undefined;
  const earlier = await earlierLabel(db, requestId, first);
  if (options.label !== undefined) {
    if (earlier !== undefined && earlier !== options.label && options.newPass !== true) {
      throw new InputError([
        `--label: request ${requestId} (${request.file}) was submitted with label ${earlier}; leave --label out to complete it under ${earlier}, or add --new-pass for another pass of its jobs labelled ${options.label}`,
      ]);
    }
    return { label: options.label, from: 'option' };
  }
  return earlier === undefined
    ? { label: generatedLabel(request.file, requestId), from: 'generated' }
    : { label: earlier, from: 'earlier' };
}

/**
 * Validates a jobs.json request completely, then writes its jobs. All or nothing: any problem in the
 * request (every one is reported) writes nothing.
 */
export async function submitRequestFile(
  db: Database,
  file: string,
  options: SubmitRequestOptions = {},
): Promise<{ plan: SubmitPlan; result: SubmitResult; request: PlannedRequest }> {
  const { request, problems } = readJobsRequest(file);
  const planOptions: PlanOptions = {
    ...(options.runListFile !== undefined && { runList: readRunList(options.runListFile) }),
    ...(options.ratdbTag !== undefined && { ratdbTag: options.ratdbTag }),
    ...(options.priority !== undefined && { priority: options.priority }),
  };
  if (request === undefined) throw new InputError(problems);
  const info = await productionInfo(db, file, request.ratVersion, options.infoFile);
  if (typeof info === 'string') throw new InputError([...problems, info]);
  const id = options.requestId ?? requestId(request, planOptions);
  // planned first with a label made without the database, so a request with problems reports them all
  const planned = planRequest(request, info, { ...planOptions, label: options.label ?? generatedLabel(file, id) });
  if (problems.length + planned.problems.length > 0) throw new InputError(byEntry([...problems, ...planned.problems]));
  const label = await defaultLabel(db, request, id, options);
  if (label !== undefined) planned.plan = planRequest(request, info, { ...planOptions, label: label.label }).plan;
  const planNote: PlannedRequest = { requestId: id, ...(label !== undefined && { defaultLabel: label }) };
  options.beforeWrite?.(planned.plan, planNote);
  // the policy lands before any pass of its labels can run; what a label's policy already says
  // (gasp policy, an earlier request) stays, so running a request again undoes no shifter's change
  if (request.policy !== undefined && options.dryRun !== true)
    await writePolicies(db, new Set(planned.plan.entries.map((entry) => entry.label)), request.policy, { keep: true });
  const result = await submitPlan(db, planned.plan, {
    requestId: id,
    ...(options.newPass !== undefined && { newPass: options.newPass }),
    ...(options.dryRun !== undefined && { dryRun: options.dryRun }),
    ...(options.onProgress !== undefined && { onProgress: options.onProgress }),
    ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
    ...(options.onStart !== undefined && { onStart: options.onStart }),
    ...(options.signal !== undefined && { signal: options.signal }),
  });
  return { plan: planned.plan, result, request: planNote };
}
