import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendStatus } from '../backends/backend.js';
import { jobFolder } from '../backends/prepare.js';
import type { JobDoc, Pass, Subjob } from '../model/documents.js';
import { ACTIVE_STATUSES } from '../model/status.js';
import type { ClientContext, CycleStats } from './context.js';
import { pauseFailingLabels } from './auto-pause.js';
import { attemptsMade, DEFAULT_MAX_ATTEMPTS, matchingKeyword, type PolicyDoc } from '../model/policy.js';
import type { HeldRow } from './held.js';
import { subjobsOf, unrecordedJobs } from './dispatch.js';
import { readManifest, recordData, verifyManifest, type Manifest, type PassOutputs } from './record.js';
import { backToWaiting, updatePasses, type PassChange } from './update.js';

/** The tail of a log kept in the database; the whole file stays at the site. */
export const LOG_TAIL_BYTES = 8 * 1024;

function tail(path: string): string {
  const size = statSync(path).size;
  const length = Math.min(size, LOG_TAIL_BYTES);
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

/**
 * Renews the leases of what this site holds, every cycle and before any backend call, whether or
 * not this cycle monitors (`--nomon`, `--steps`): a batch system that does not answer never costs
 * the claims. Only leases past half their time are written.
 */
export async function renewLeases(ctx: ClientContext, rows: readonly HeldRow[]): Promise<void> {
  const now = ctx.now();
  const leaseUntil = new Date(now.getTime() + ctx.leaseSeconds * 1000).toISOString();
  const halfway = new Date(now.getTime() + (ctx.leaseSeconds * 1000) / 2).toISOString();
  await updatePasses(
    ctx,
    rows
      .filter((row) => row.token !== null && row.lease !== null && row.lease < halfway)
      .map((row) => ({
        id: row.id,
        pass: row.pass,
        apply: (stored) =>
          stored.claim?.token !== row.token || stored.claim === undefined
            ? undefined
            : { ...stored, claim: { ...stored.claim, lease_until: leaseUntil } },
      })),
  );
}

/** Passes whose documents are read and moved on at a time, so memory stays flat however many a site holds. */
const PAGE = 500;

/** The documents of these held passes, read fresh; a pass that moved on meanwhile (another token) is left out. */
async function heldPasses(ctx: ClientContext, rows: readonly HeldRow[]): Promise<Array<{ doc: JobDoc; pass: Pass }>> {
  const wanted = new Map(rows.map((row) => [`${row.id}#${row.pass}`, row.token]));
  const found = await ctx.db.allDocs<JobDoc>({ keys: [...new Set(rows.map((row) => row.id))], include_docs: true });
  return found.rows.flatMap((row) => {
    const doc = row.doc;
    if (!doc) return [];
    return doc.passes
      .filter(
        (pass) =>
          pass.site === ctx.site.name &&
          ACTIVE_STATUSES.includes(pass.status) &&
          wanted.get(`${doc._id}#${pass.pass}`) === (pass.claim?.token ?? null),
      )
      .map((pass) => ({ doc, pass }));
  });
}

/** A held pass a shifter cancelled: its jobs stopped in the backend, the pass and its attempt canceled. */
async function cancelHeld(ctx: ClientContext, doc: JobDoc, pass: Pass, now: string): Promise<PassChange> {
  const recorded = subjobsOf(pass).flatMap((subjob) =>
    subjob.backend_id === undefined || ENDED.includes(subjob.state) ? [] : [subjob.backend_id],
  );
  const active = [...recorded, ...(await unrecordedJobs(ctx, doc, pass))];
  if (active.length > 0) await ctx.backend.cancel(active);
  ctx.log.info(
    { job: doc._id, pass: pass.pass, jobs: active.length },
    `canceled ${doc.module} run ${doc.run} pass ${pass.pass} as asked (${active.length} jobs stopped)`,
  );
  const token = pass.claim?.token;
  return {
    id: doc._id,
    pass: pass.pass,
    apply: (stored) => {
      if (stored.claim?.token !== token) return undefined;
      const { site: _site, claim: _claim, cancel_requested: _asked, ...rest } = stored;
      return {
        ...rest,
        status: 'canceled',
        attempts: stored.attempts.map((attempt) =>
          attempt.token === token
            ? { ...attempt, status: 'canceled', finished: now, reason: 'canceled by a shifter' }
            : attempt,
        ),
      };
    },
  };
}

/** The wrapper's own account of the run, for timing and the reproducibility record. */
function ranOf(manifest: Manifest | undefined): Pick<Subjob, 'ran'> {
  if (manifest?.started === undefined || manifest.finished === undefined) return {};
  const tag = manifest.ratdb_tag ?? undefined;
  return {
    ran: {
      host: manifest.host ?? '?',
      started: manifest.started,
      finished: manifest.finished,
      wrapper_version: manifest.wrapper_version ?? '?',
      ...(tag !== undefined && { ratdb_tag: tag }),
    },
  };
}

/** Subjob states that are final: the backend is not asked about them again. */
const ENDED: ReadonlyArray<Subjob['state']> = ['completed', 'failed'];

/** The jobs of held passes still worth asking the backend about: submitted, not yet recorded as ended. */
const askable = (row: HeldRow) =>
  row.jobs.flatMap(([id, state]) => (id === null || ENDED.includes(state ?? undefined) ? [] : [id]));

/** Whether the backend's answer changes what the pass records: a job's state, its end, a lost job. */
function moved(row: HeldRow, statuses: ReadonlyMap<string, BackendStatus>): boolean {
  return (
    row.cancel ||
    row.jobs.some(
      ([id, state]) => id !== null && !ENDED.includes(state ?? undefined) && statuses.get(id)?.state !== state,
    )
  );
}

/** The tail of the job's .out and .err, as attachments of its pass (no log file, no attachment: a dry job). */
function attachLogs(
  attachments: Record<string, { content_type: string; data: string }>,
  folder: string,
  pass: number,
  subjob: number,
): void {
  for (const stream of ['out', 'err'] as const) {
    const log = join(folder, `job.${stream}`);
    if (existsSync(log))
      attachments[`p${pass}-s${subjob}.${stream}`] = {
        content_type: 'text/plain',
        data: Buffer.from(tail(log)).toString('base64'),
      };
  }
}

/**
 * One status call for every job of every pass this site holds, then each pass moves on: running;
 * completed (outputs verified and recorded), failed or partFail when all its jobs ended; back to
 * waiting, as a new attempt, when a job is lost (the backend forgot it and it left no manifest).
 * The claims' leases are renewed on the way. What to ask comes from the held rows; only the
 * documents of passes whose jobs moved are read, a page at a time. Returns the labels it paused.
 */
export async function monitorPasses(
  ctx: ClientContext,
  stats: CycleStats,
  rows: readonly HeldRow[],
  policies: ReadonlyMap<string, PolicyDoc> = new Map(),
): Promise<string[]> {
  if (rows.length === 0) return [];
  const now = ctx.now();
  const ids = rows.flatMap(askable);
  const statuses = ids.length === 0 ? new Map<string, BackendStatus>() : await ctx.backend.status(ids);
  const moving = rows.filter((row) => moved(row, statuses));
  /** Labels with a pass that failed this cycle: each is checked for auto-pause. */
  const failing = new Set<string>();
  // the others are queued or running as recorded: nothing to read or write
  stats.running += rows.length - moving.length;
  for (let start = 0; start < moving.length; start += PAGE) {
    await movePasses(
      ctx,
      stats,
      await heldPasses(ctx, moving.slice(start, start + PAGE)),
      statuses,
      now,
      failing,
      policies,
    );
  }
  return failing.size > 0 ? pauseFailingLabels(ctx.db, ctx.log, failing, `site ${ctx.site.name}`) : [];
}

/** Records what the backend said of these passes' jobs. */
async function movePasses(
  ctx: ClientContext,
  stats: CycleStats,
  held: ReadonlyArray<{ doc: JobDoc; pass: Pass }>,
  statuses: ReadonlyMap<string, BackendStatus>,
  now: Date,
  failing: Set<string>,
  policies: ReadonlyMap<string, PolicyDoc>,
): Promise<void> {
  const changes: PassChange[] = [];
  const outputs: PassOutputs[] = [];
  for (const { doc, pass } of held) {
    const token = pass.claim?.token;
    if (pass.cancel_requested !== undefined) {
      changes.push(await cancelHeld(ctx, doc, pass, now.toISOString()));
      stats.canceled += 1;
      continue;
    }
    const manifests: Array<{ subjob: number; manifest: Manifest }> = [];
    const attachments: Record<string, { content_type: string; data: string }> = {};
    let lost = false;
    const problems: string[] = [];
    const subjobs: Subjob[] = [];
    for (const subjob of subjobsOf(pass)) {
      if (subjob.backend_id === undefined) {
        subjobs.push(subjob);
        continue;
      }
      const folder = jobFolder(ctx.workRoot, doc.module, doc.run, pass, subjob.index);
      if (ENDED.includes(subjob.state)) {
        // ended in an earlier cycle and recorded so: never asked again (a batch system may have
        // forgotten it by now); its outputs and logs go with the pass when the last job ends
        const manifest = subjob.state === 'completed' ? readManifest(join(folder, 'manifest.json')) : undefined;
        if (manifest !== undefined) manifests.push({ subjob: subjob.index, manifest });
        attachLogs(attachments, folder, pass.pass, subjob.index);
        subjobs.push(subjob);
        continue;
      }
      const status = statuses.get(subjob.backend_id) ?? { state: 'lost' as const };
      const manifest = readManifest(join(folder, 'manifest.json'));
      const ended =
        status.state === 'completed' ||
        status.state === 'failed' ||
        (status.state === 'lost' && manifest !== undefined);
      if (status.state === 'lost' && manifest === undefined) lost = true;
      if (!ended) {
        subjobs.push({ ...subjob, state: status.state === 'lost' ? 'lost' : status.state });
        continue;
      }
      const exitCode = manifest?.exit_code ?? status.exitCode ?? 1;
      let state: Subjob['state'] = exitCode === 0 ? 'completed' : 'failed';
      if (state === 'completed' && manifest !== undefined) {
        const wrong = await verifyManifest(manifest, expectedOutputs(folder));
        if (wrong !== undefined) {
          state = 'failed';
          problems.push(wrong);
        } else {
          manifests.push({ subjob: subjob.index, manifest });
        }
      } else if (state === 'completed' && ctx.backend.runsWrapper) {
        state = 'failed';
        problems.push('the job left no manifest');
      } else {
        problems.push(manifest?.error ?? status.reason ?? `exit code ${exitCode}`);
      }
      attachLogs(attachments, folder, pass.pass, subjob.index);
      subjobs.push({ ...subjob, state, exit_code: exitCode, finished: now.toISOString(), ...ranOf(manifest) });
    }
    if (lost) {
      stats.lost += 1;
      // the whole pass runs again: its siblings still running are stopped first, so none runs twice
      const active = [
        ...subjobs.flatMap((subjob) =>
          subjob.backend_id !== undefined &&
          (subjob.state === 'queued' || subjob.state === 'running' || subjob.state === 'submitted')
            ? [subjob.backend_id]
            : [],
        ),
        ...(await unrecordedJobs(ctx, doc, pass)),
      ];
      if (active.length > 0) await ctx.backend.cancel(active);
      changes.push({
        id: doc._id,
        pass: pass.pass,
        apply: (stored) =>
          stored.claim?.token !== token
            ? undefined
            : backToWaiting(
                stored,
                token,
                now.toISOString(),
                'the backend no longer knows the job and it left no manifest',
              ),
      });
      continue;
    }
    const finished = subjobs.every((subjob) => subjob.state === 'completed' || subjob.state === 'failed');
    if (finished) {
      const good = subjobs.filter((subjob) => subjob.state === 'completed').length;
      const status: Pass['status'] = good === subjobs.length ? 'completed' : good === 0 ? 'failed' : 'partFail';
      const problem = problems.length === 0 ? undefined : problems.join('; ');
      const exitCode = subjobs.find((subjob) => subjob.state === 'failed')?.exit_code ?? 0;
      // only the failed jobs' logs and reasons say whether the failure was a transient one
      const failedLogs = subjobs.flatMap((subjob) =>
        subjob.state === 'failed'
          ? (['out', 'err'] as const).flatMap((stream) => attachments[`p${pass.pass}-s${subjob.index}.${stream}`] ?? [])
          : [],
      );
      const again =
        status === 'completed' ? undefined : resubmission(policies.get(pass.label), pass, failedLogs, problems);
      if (again !== undefined && status !== 'completed') {
        // the whole pass runs again and writes its outputs again: none of this attempt's is recorded
        stats.resubmitted += 1;
        ctx.log.warn(
          { job: doc._id, pass: pass.pass },
          `${doc.module} run ${doc.run} pass ${pass.pass} ${status}: ${again}`,
        );
        changes.push({
          id: doc._id,
          pass: pass.pass,
          attachments,
          apply: (stored) =>
            stored.claim?.token !== token
              ? undefined
              : backToWaiting(stored, token, now.toISOString(), `${problem ?? status}; ${again}`, status, exitCode),
        });
        continue;
      }
      if (manifests.length > 0) outputs.push({ doc, pass, manifests });
      stats[status === 'completed' ? 'completed' : 'failed'] += 1;
      if (status !== 'completed') failing.add(pass.label);
      changes.push({
        id: doc._id,
        pass: pass.pass,
        attachments,
        apply: (stored) =>
          stored.claim?.token !== token
            ? undefined
            : {
                ...stored,
                status,
                subjobs,
                attempts: stored.attempts.map((attempt) =>
                  attempt.token === token
                    ? {
                        ...attempt,
                        status,
                        finished: now.toISOString(),
                        exit_code: exitCode,
                        ...(problem !== undefined && { reason: problem }),
                      }
                    : attempt,
                ),
              },
      });
      continue;
    }
    const running = subjobs.some((subjob) => subjob.state === 'running');
    // held and not finished: queued or running at the backend
    stats.running += 1;
    changes.push({
      id: doc._id,
      pass: pass.pass,
      apply: (stored) =>
        stored.claim?.token !== token || stored.claim === undefined
          ? undefined
          : { ...stored, status: running ? 'running' : stored.status, subjobs },
    });
  }
  // outputs first: a pass is completed only once its data documents are written
  await recordData(ctx, outputs);
  await updatePasses(ctx, changes);
}

/**
 * Why a failed pass goes back to waiting by its label's policy: its logs or failure name one of
 * the policy's transient errors and it has attempts left. Undefined when it stays failed.
 */
function resubmission(
  policy: PolicyDoc | undefined,
  pass: Pass,
  logs: ReadonlyArray<{ data: string }>,
  problems: readonly string[],
): string | undefined {
  const texts = [...logs.map((log) => Buffer.from(log.data, 'base64').toString('utf8')), ...problems];
  const keyword = matchingKeyword(policy, texts);
  const made = attemptsMade(pass);
  const most = policy?.max_attempts ?? DEFAULT_MAX_ATTEMPTS;
  if (keyword === undefined || made >= most) return undefined;
  return `its log says "${keyword}", a transient error by the policy of label ${pass.label}: resubmitted (attempt ${made + 1} of at most ${most})`;
}

/** The output files the job's spec.json promised, to check the manifest lists them all. */
function expectedOutputs(folder: string): string[] {
  try {
    const spec = JSON.parse(readFileSync(join(folder, 'spec.json'), 'utf8')) as { outputs?: Array<{ file: string }> };
    return (spec.outputs ?? []).map((output) => output.file);
  } catch {
    return [];
  }
}
