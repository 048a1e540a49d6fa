/** A label's failure policy (`gasp policy`), and whether it is paused. One document per label. */
export interface PolicyDoc {
  _id: string;
  _rev?: string;
  type: 'policy';
  label: string;
  /** Pause the label when more than `failed` of its last `of` ended passes failed. */
  pause_after?: { failed: number; of: number };
  /** Set when paused (by the client's auto-pause or a person); no site claims the label's passes. */
  paused?: { since: string; reason: string; by: string };
}

export const POLICY_PREFIX = 'policy:';
export const policyId = (label: string) => `${POLICY_PREFIX}${label}`;
export const DEFAULT_PAUSE_AFTER = { failed: 10, of: 20 } as const;
