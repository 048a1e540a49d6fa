/**
 * A database server for one simulated site of the bench: each request passed on to the bench's
 * server and counted, with the site's claims and the ones another site won first.
 */
import type { CouchRequest, Server } from '../src/db/database.js';
import type { JobDoc, Pass } from '../src/model/documents.js';

/** What one site asked of the server. Retries inside Couch are one request here. */
export interface Traffic {
  requests: number;
  /** Request bodies as JSON, in characters (paths, query strings and headers left out). */
  sent: number;
  /**
   * Answers as parsed, written back to JSON, in characters: close to the body on the wire (the
   * server's own spacing aside), without headers.
   */
  received: number;
  /** Job documents read to claim (after the ready view), and of those the ones already taken when read. */
  picked: number;
  takenBeforeRead: number;
  /** Documents in its claim writes, and the rows of those another site had written first. */
  claimWrites: number;
  conflicts: number;
}

export const noTraffic = (): Traffic => ({
  requests: 0,
  sent: 0,
  received: 0,
  picked: 0,
  takenBeforeRead: 0,
  claimWrites: 0,
  conflicts: 0,
});

export function since(now: Traffic, before: Traffic): Traffic {
  const change = noTraffic();
  for (const key of Object.keys(change) as Array<keyof Traffic>) change[key] = now[key] - before[key];
  return change;
}

/** A pass as a claim leaves it: submitted, and no job of it given a backend id yet (a dispatch record gives them). */
const justClaimed = (pass: Pass) =>
  pass.status === 'submitted' &&
  pass.claim !== undefined &&
  (pass.subjobs ?? []).every((subjob) => subjob.backend_id === undefined);

/**
 * The bench's server for one site: passes each request on and counts it. Claims are told apart by
 * what they write (src/client/claim.ts knows nothing of the bench): a `_bulk_docs` with a
 * just-claimed pass in it is a claim, and the job documents read between the ready view and the
 * next write are what the site picked to claim. Other bulk writes (dispatch records) rarely conflict.
 */
export class CountingServer implements Server {
  readonly traffic = noTraffic();
  #afterReadyView = false;

  constructor(readonly couch: Server) {}

  get url(): string {
    return this.couch.url;
  }

  async request<T>(request: CouchRequest): Promise<T> {
    this.traffic.requests++;
    if (request.body !== undefined) this.traffic.sent += JSON.stringify(request.body).length;
    const answer = await this.couch.request<T>(request);
    this.traffic.received += JSON.stringify(answer ?? null).length;
    this.#observe(request, answer);
    return answer;
  }

  #observe(request: CouchRequest, answer: unknown): void {
    const path = request.path ?? '';
    if (path.includes('/_view/ready_')) this.#afterReadyView = true;
    else if (path === '_all_docs' && this.#afterReadyView) {
      const rows = (answer as { rows: Array<{ doc?: JobDoc | null }> }).rows;
      const jobs = rows.flatMap((row) => (row.doc?.type === 'job' ? [row.doc] : []));
      // another read in between (GASP's documents), not the claim's
      if (jobs.length === 0) return;
      this.#afterReadyView = false;
      this.traffic.picked += jobs.length;
      this.traffic.takenBeforeRead += jobs.filter(
        (doc) => !doc.passes.some((pass) => pass.status === 'waiting' && pass.site === undefined),
      ).length;
    } else if (path === '_bulk_docs') {
      this.#afterReadyView = false;
      const docs = (request.body as { docs: JobDoc[] }).docs;
      if (!docs.some((doc) => doc.type === 'job' && doc.passes.some(justClaimed))) return;
      this.traffic.claimWrites += docs.length;
      this.traffic.conflicts += (answer as Array<{ error?: string }>).filter((row) => row.error === 'conflict').length;
    }
  }
}
