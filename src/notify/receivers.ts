import { spawn } from 'node:child_process';
import type { NotifyConfig } from '../config/notify-settings.js';
import type { NotifyEvent } from '../model/notify.js';
import { scrubCredentials } from '../scrub.js';

/** What a receiver sends: a title, a few lines, and the event's structured fields. */
export interface Message {
  title: string;
  text: string;
  fields: Record<string, unknown>;
}

/** Somewhere notifications go. `name` is what logs and the notify documents show: never a token. */
export interface Receiver {
  name: string;
  send(message: Message, signal: AbortSignal): Promise<void>;
}

/** How long one try may take before it counts as failed. */
const TRY_MS = 20_000;

export const messageOf = (event: NotifyEvent, database: string): Message => ({
  title: event.title,
  text: event.text,
  fields: {
    kind: event.kind,
    subject: event.subject,
    generation: event.generation,
    ...(event.label !== undefined && { label: event.label }),
    ...(event.site !== undefined && { site: event.site }),
    database,
    ...event.fields,
  },
});

/**
 * A JSON POST: `text` (title and lines, as Mattermost and Slack incoming webhooks show it) beside
 * the structured fields, for generic receivers. Errors name the host only: the URL's path or
 * user part may hold the token.
 */
export function webhookReceiver(webhook: NonNullable<NotifyConfig['webhook']>): Receiver {
  const name = `webhook ${webhook.shown}`;
  return {
    name,
    async send(message, signal) {
      let answer: Response;
      try {
        answer = await fetch(webhook.url.reveal(), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            text: `**${message.title}**\n${message.text}`,
            title: message.title,
            ...message.fields,
          }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(TRY_MS)]),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        throw new Error(`${name}: ${scrubCredentials(String(cause))}`);
      }
      await answer.arrayBuffer().catch(() => undefined);
      if (!answer.ok) throw new Error(`${name}: HTTP ${answer.status}`);
    },
  };
}

/** A header value on one line. */
const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ');

/** Mail through a local sendmail: `sendmail -oi -- ADDRESS…`, the message on stdin; never a shell. */
export function mailReceiver(sendmail: string, to: readonly string[], from?: string): Receiver {
  const name = `mail ${to.join(', ')}`;
  return {
    name,
    send(message, signal) {
      const mail = [
        ...(from === undefined ? [] : [`From: ${from}`]),
        `To: ${to.join(', ')}`,
        `Subject: ${oneLine(message.title)}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        message.text,
        '',
        ...Object.entries(message.fields).map(([key, value]) => `${key}: ${String(value)}`),
        '',
      ].join('\n');
      return new Promise<void>((resolve, reject) => {
        const child = spawn(sendmail, ['-oi', '--', ...to], {
          stdio: ['pipe', 'ignore', 'pipe'],
          signal: AbortSignal.any([signal, AbortSignal.timeout(TRY_MS)]),
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', (error) => reject(new Error(`${name}: ${sendmail}: ${error.message}`)));
        child.on('close', (code) =>
          code === 0
            ? resolve()
            : reject(
                new Error(
                  `${name}: ${sendmail} exited ${code ?? 'on a signal'}: ${stderr.trim().split('\n')[0] ?? ''}`,
                ),
              ),
        );
        child.stdin.on('error', () => undefined);
        child.stdin.end(mail);
      });
    },
  };
}

/** The receivers `[notify]` names (none: notifications are off). */
export function receiversOf(config: NotifyConfig): Receiver[] {
  return [
    ...(config.webhook === undefined ? [] : [webhookReceiver(config.webhook)]),
    ...(config.mailTo.length === 0 ? [] : [mailReceiver(config.sendmail, config.mailTo, config.mailFrom)]),
  ];
}
