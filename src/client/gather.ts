import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendStatus } from '../backends/backend.js';
import { jobFolder } from '../backends/prepare.js';
import type { JobDoc, Pass } from '../model/documents.js';
import type { PolicyDoc } from '../model/policy.js';
import { ENDED, exitCodeOf, subjobsOf, type ObserveFacts, type SubjobFact } from '../passes/transitions.js';
import type { ClientContext } from './context.js';
import { readManifest } from '../backends/prepare.js';
import { verifyManifest } from './record.js';
import { remoteFiles, type RemoteAnswer } from '../storage/many.js';
import { StorageUnavailableError } from '../storage/xrootd.js';

/** The tail of a log kept in the database; the whole file stays at the site. */
export const LOG_TAIL_BYTES = 8 * 1024;

export type Attachments = Record<string, { content_type: string; data: string }>;

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

/** The tails of the job's .out and .err, as attachments of its pass (no log file, no attachment: a dry job). */
function attachLogs(attachments: Attachments, folder: string, pass: number, subjob: number): string[] {
  const texts: string[] = [];
  for (const stream of ['out', 'err'] as const) {
    const log = join(folder, `job.${stream}`);
    if (!existsSync(log)) continue;
    const text = tail(log);
    attachments[`p${pass}-s${subjob}.${stream}`] = {
      content_type: 'text/plain',
      data: Buffer.from(text).toString('base64'),
    };
    texts.push(text);
  }
  return texts;
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

const endedAt = (status: BackendStatus, manifest: unknown) =>
  status.state === 'completed' || status.state === 'failed' || (status.state === 'lost' && manifest !== undefined);

/**
 * What the SEs say of the outputs of every job of these passes that ended well since the last
 * cycle, asked for all at once (two xrdfs sessions per SE, not two processes per file); gatherFacts
 * then checks each pass against it.
 */
export async function storedOutputs(
  ctx: ClientContext,
  held: ReadonlyArray<{ doc: JobDoc; pass: Pass }>,
  statuses: ReadonlyMap<string, BackendStatus>,
  unreachable: Set<string>,
): Promise<Map<string, RemoteAnswer>> {
  const urls: string[] = [];
  for (const { doc, pass } of held) {
    for (const subjob of subjobsOf(pass)) {
      if (subjob.backend_id === undefined || ENDED.includes(subjob.state)) continue;
      const backend = statuses.get(subjob.backend_id) ?? { state: 'lost' as const };
      const manifest = readManifest(
        join(jobFolder(ctx.workRoot, doc.module, doc.run, pass, subjob.index), 'manifest.json'),
      );
      if (manifest === undefined || !endedAt(backend, manifest) || exitCodeOf({ backend, manifest }) !== 0) continue;
      urls.push(...manifest.outputs.map((output) => output.url));
    }
  }
  return remoteFiles(urls, unreachable);
}

/** What was gathered of a pass, or the storage element that did not answer when its outputs were checked. */
export type Gathered = { facts: ObserveFacts; attachments: Attachments } | { unchecked: StorageUnavailableError };

/**
 * What the backend and each job's folder say of a held pass: the backend's answer, the manifest,
 * whether its outputs are in storage as it says (for a job that ended well), and the log tails of
 * the jobs that ended (attached to the pass when it ends). Jobs recorded as ended in an earlier
 * cycle are never asked again (a batch system may have forgotten them). `unchecked`: a storage
 * element did not answer, so the outputs could not be checked and the pass is left as it is.
 */
export async function gatherFacts(
  ctx: ClientContext,
  { doc, pass }: { doc: JobDoc; pass: Pass },
  statuses: ReadonlyMap<string, BackendStatus>,
  policy: PolicyDoc | undefined,
  unreachable = new Set<string>(),
  known?: ReadonlyMap<string, RemoteAnswer>,
): Promise<Gathered> {
  const attachments: Attachments = {};
  const subjobs = new Map<number, SubjobFact>();
  for (const subjob of subjobsOf(pass)) {
    if (subjob.backend_id === undefined) continue;
    const folder = jobFolder(ctx.workRoot, doc.module, doc.run, pass, subjob.index);
    const manifestFile = join(folder, 'manifest.json');
    if (ENDED.includes(subjob.state)) {
      // its outputs and logs go with the pass when the last job ends
      const manifest = subjob.state === 'completed' ? readManifest(manifestFile) : undefined;
      const logs = attachLogs(attachments, folder, pass.pass, subjob.index);
      subjobs.set(subjob.index, { ...(manifest !== undefined && { manifest }), logs });
      continue;
    }
    const backend = statuses.get(subjob.backend_id) ?? { state: 'lost' as const };
    const manifest = readManifest(manifestFile);
    if (!endedAt(backend, manifest)) {
      subjobs.set(subjob.index, { backend, ...(manifest !== undefined && { manifest }) });
      continue;
    }
    // outputs are checked against storage for a job that ended well by the same exit code observe judges by
    let outputsWrong: string | undefined;
    if (manifest !== undefined && exitCodeOf({ backend, manifest }) === 0) {
      try {
        outputsWrong = await verifyManifest(manifest, expectedOutputs(folder), unreachable, known);
      } catch (error) {
        // the SE did not answer: nothing is known of the outputs, so the pass stays as it is until it does
        if (error instanceof StorageUnavailableError) return { unchecked: error };
        throw error;
      }
    }
    const logs = attachLogs(attachments, folder, pass.pass, subjob.index);
    subjobs.set(subjob.index, {
      backend,
      logs,
      ...(manifest !== undefined && { manifest }),
      ...(outputsWrong !== undefined && { outputsWrong }),
    });
  }
  const facts: ObserveFacts = {
    token: pass.claim?.token,
    subjobs,
    runsWrapper: ctx.backend.runsWrapper,
    ...(policy !== undefined && { policy }),
  };
  return { facts, attachments };
}
