/**
 * Notifications: a few events a shifter wants to hear about without watching the dashboard. Each
 * event is sent once across all sites: the first site to create its document (`notifyId`) sends it.
 */
export const NOTIFY_KINDS = ['pause', 'quarantine', 'stale', 'proxy', 'finished'] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

export const NOTIFY_PREFIX = 'notify:';

/** One thing that happened, as a site reports it: `generation` tells a second pause of a label from the first. */
export interface NotifyEvent {
  kind: NotifyKind;
  /** The label or site it is about. */
  subject: string;
  /** What makes this occurrence new: when the label was paused, the site quarantined, its last beat… */
  generation: string;
  label?: string;
  site?: string;
  /** One line a person reads first (the webhook's `text`, the mail's subject). */
  title: string;
  /** The rest: a few lines (a summary, a reason). */
  text: string;
  /** Structured fields for receivers that read them. */
  fields?: Record<string, string | number | null>;
}

/** How one receiver took the event. `sending`: claimed and not confirmed (a crash there loses it; see README "Notifications"). */
export type DeliveryState = 'sending' | 'sent' | 'failed' | 'summarised';

export interface Delivery {
  state: DeliveryState;
  at: string;
  tries: number;
  error?: string;
}

/** The dedup record of one event: created without `_rev` by the site that sends it; a 409 means another site does. */
export interface NotifyDoc extends Omit<NotifyEvent, 'fields'> {
  _id: string;
  _rev?: string;
  type: 'notify';
  /** The site that claimed it, and when. */
  by: string;
  claimed: string;
  /** By receiver name (`webhook https://host`, `mail a@b`). */
  receivers: Record<string, Delivery>;
}

export const notifyId = (event: Pick<NotifyEvent, 'kind' | 'subject' | 'generation'>): string =>
  `${NOTIFY_PREFIX}${event.kind}:${event.subject}:${event.generation}`;
