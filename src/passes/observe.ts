import type { Pass, Subjob } from '../model/documents.js';
import type { Manifest } from '../model/manifest.js';
import { attemptsMade, DEFAULT_MAX_ATTEMPTS, matchingKeyword, type PolicyDoc } from '../model/policy.js';
import { activeJobs, claimRefusal, ENDED, release, subjobsOf, unchanged, type Outcome } from './rules.js';
import { labelText } from '../model/label.js';

/** What is known of one submitted job: the backend's answer and what the job left in its folder. */
export interface SubjobFact {
  /** The backend's answer now; absent: not asked (ended in an earlier cycle). A job it does not know is `lost`. */
  backend?: {
    state: 'submitted' | 'queued' | 'running' | 'completed' | 'failed' | 'lost';
    exitCode?: number;
    reason?: string;
  };
  /** The wrapper's manifest.json, when it left one. */
  manifest?: Manifest;
  /** What is wrong with the outputs the manifest lists, checked against storage (only for a job that ended with exit 0). */
  outputsWrong?: string;
  /** The tails of its .out and .err, for the label's policy on transient errors. */
  logs?: string[];
}

export interface ObserveFacts {
  /** The claim the observer holds: the stored pass must still be under it. */
  token: string | undefined;
  subjobs: ReadonlyMap<number, SubjobFact>;
  /** The backend runs the wrapper, so a job that ended well left a manifest (the dry backend does not). */
  runsWrapper: boolean;
  /** The label's failure policy: a failure its transient errors name is resubmitted. */
  policy?: PolicyDoc;
}

/** A job's exit code: its manifest's, else the backend's, else a failure. */
export const exitCodeOf = ({ backend, manifest }: Pick<SubjobFact, 'backend' | 'manifest'>): number =>
  manifest?.exit_code ?? backend?.exitCode ?? 1;

/** A job that ended now: its final state, exit code and, if it failed, why. */
function ending(
  subjob: Subjob,
  fact: SubjobFact,
  runsWrapper: boolean,
  at: string,
): { subjob: Subjob; problem?: string } {
  const { backend, manifest } = fact;
  const exitCode = exitCodeOf(fact);
  let problem: string | undefined;
  if (exitCode !== 0) problem = manifest?.error ?? backend?.reason ?? `exit code ${exitCode}`;
  else if (manifest !== undefined) problem = fact.outputsWrong;
  else if (runsWrapper) problem = 'the job left no manifest';
  const ran =
    manifest?.started === undefined || manifest.finished === undefined
      ? {}
      : {
          ran: {
            host: manifest.host ?? '?',
            started: manifest.started,
            finished: manifest.finished,
            wrapper_version: manifest.wrapper_version ?? '?',
            ...(manifest.ratdb_tag != null && { ratdb_tag: manifest.ratdb_tag }),
          },
        };
  const state: Subjob['state'] = exitCode === 0 && problem === undefined ? 'completed' : 'failed';
  return {
    subjob: { ...subjob, state, exit_code: exitCode, finished: at, ...ran },
    ...(problem !== undefined && { problem }),
  };
}

/** Each subjob after the backend's answer, the problems of those that failed now, and whether one is lost. */
function observeSubjobs(pass: Pass, facts: ObserveFacts, at: string) {
  const subjobs: Subjob[] = [];
  const problems: string[] = [];
  let lost = false;
  for (const subjob of subjobsOf(pass)) {
    const fact = facts.subjobs.get(subjob.index) ?? {};
    if (subjob.backend_id === undefined || ENDED.includes(subjob.state)) {
      subjobs.push(subjob);
      continue;
    }
    const state = fact.backend?.state ?? 'lost';
    const ended = state === 'completed' || state === 'failed' || (state === 'lost' && fact.manifest !== undefined);
    if (!ended) {
      if (state === 'lost') lost = true;
      subjobs.push({ ...subjob, state });
      continue;
    }
    const end = ending(subjob, fact, facts.runsWrapper, at);
    subjobs.push(end.subjob);
    if (end.problem !== undefined) problems.push(end.problem);
  }
  return { subjobs, problems, lost };
}

/**
 * Why a failed pass goes back to waiting by its label's policy: its failed jobs' logs or failures
 * name one of the policy's transient errors and it has attempts left. Undefined when it stays failed.
 */
export function resubmission(policy: PolicyDoc | undefined, pass: Pass, texts: readonly string[]): string | undefined {
  const keyword = matchingKeyword(policy, texts);
  const made = attemptsMade(pass);
  const most = policy?.max_attempts ?? DEFAULT_MAX_ATTEMPTS;
  if (keyword === undefined || made >= most) return undefined;
  return `its log says "${keyword}", a transient error by the policy of label ${labelText(pass.label)}: resubmitted (attempt ${made + 1} of at most ${most})`;
}

/**
 * A held pass after the backend's answer: running while any job runs; completed, failed or
 * partFail when all ended (outputs recorded, logs attached); back to waiting as a new attempt when
 * a job is lost (its siblings stopped) or when its label's policy resubmits the failure.
 */
export function observe(pass: Pass, facts: ObserveFacts, now: Date): Outcome {
  const refused = claimRefusal('observe', pass, facts.token);
  if (refused !== undefined) return unchanged(refused);
  const at = now.toISOString();
  const { subjobs, problems, lost } = observeSubjobs(pass, facts, at);
  if (lost) {
    const reason = 'the backend no longer knows the job and it left no manifest';
    return release(pass, { reason }, now, 'lost', {
      cancel: activeJobs(subjobs.filter((subjob) => subjob.state !== 'lost')),
      unrecorded: true,
    });
  }
  if (!subjobs.every((subjob) => ENDED.includes(subjob.state))) {
    const running = subjobs.some((subjob) => subjob.state === 'running');
    return {
      changed: true,
      pass: { ...pass, status: running ? 'running' : pass.status, subjobs },
      event: 'running',
      effects: {},
    };
  }
  const good = subjobs.filter((subjob) => subjob.state === 'completed');
  const status: Pass['status'] =
    good.length === subjobs.length ? 'completed' : good.length === 0 ? 'failed' : 'partFail';
  const problem = problems.length === 0 ? undefined : problems.join('; ');
  const exitCode = subjobs.find((subjob) => subjob.state === 'failed')?.exit_code ?? 0;
  const failedLogs = subjobs.flatMap((subjob) =>
    subjob.state === 'failed' ? (facts.subjobs.get(subjob.index)?.logs ?? []) : [],
  );
  const again = status === 'completed' ? undefined : resubmission(facts.policy, pass, [...failedLogs, ...problems]);
  if (again !== undefined) {
    // the whole pass runs again and writes its outputs again: none of this attempt's is recorded
    return release(
      pass,
      { reason: `${problem ?? status}; ${again}`, status, exit_code: exitCode },
      now,
      'resubmitted',
      { logs: true },
    );
  }
  const attempts = pass.attempts.map((attempt) =>
    attempt.token === facts.token
      ? { ...attempt, status, finished: at, exit_code: exitCode, ...(problem !== undefined && { reason: problem }) }
      : attempt,
  );
  const outputs = good
    .filter((subjob) => facts.subjobs.get(subjob.index)?.manifest !== undefined)
    .map((subjob) => subjob.index);
  return {
    changed: true,
    pass: { ...pass, status, subjobs, attempts },
    event: status,
    effects: { logs: true, ...(outputs.length > 0 && { outputs }) },
    ...(problem !== undefined && { reason: problem }),
  };
}
