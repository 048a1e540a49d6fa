import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaseHolderId } from '../model/lease.js';

/**
 * One holder of document leases: its identity, written into every lease it takes, and the leases
 * it holds now. That record is what tells a lease document of this holder's that another call is
 * using now (wait) from one a call left behind because its release failed (take it back). It
 * lives on an object its owner passes around (each Database handle has one), not in module state,
 * so two owners in one process are two holders and a test builds as many as it needs.
 */
export class LeaseHolder implements LeaseHolderId {
  readonly host = hostname();
  readonly pid = process.pid;
  readonly instance = randomUUID();
  readonly #held = new Set<string>();

  /** The identity written into a lease document. */
  get id(): LeaseHolderId {
    return { host: this.host, pid: this.pid, instance: this.instance };
  }

  holds(leaseId: string): boolean {
    return this.#held.has(leaseId);
  }

  hold(leaseId: string): void {
    this.#held.add(leaseId);
  }

  letGo(leaseId: string): void {
    this.#held.delete(leaseId);
  }
}
