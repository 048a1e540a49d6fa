import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { Secret } from '../secret.js';
import { httpUrl, integer, Invalid, optional, positiveNumber, show, withDefault, type FieldParser } from './fields.js';

/** Where mail goes when `[notify] sendmail` does not say. */
export const DEFAULT_SENDMAIL = '/usr/sbin/sendmail';

/** What `[notify]` sets: where notifications go and how many an hour each receiver takes. */
export interface NotifyConfig {
  /** A Mattermost / Slack incoming webhook or any receiver of a JSON POST; its token never logged. */
  webhook?: { url: Secret; shown: string };
  mailTo: string[];
  mailFrom?: string;
  /** The sendmail program, checked to exist when mail_to is set. */
  sendmail: string;
  /**
   * Set when mail_to is set and sendmail is not there. Only the commands that send or check refuse
   * for it (config check, enqueue, doctor): a shifter's machine without sendmail can still read.
   */
  sendmailMissing?: string;
  perHour: number;
  /** Below this many hours left on a site's grid proxy, its client warns (and notifies) every hour. */
  proxyWarnHours: number;
}

const ADDRESS = /^[^\s@<>,;"'\\]+@[^\s@<>,;"'\\]+$/;

const addresses: FieldParser<string[]> = (value) => {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new Invalid('is empty');
  const bad = items.find((item) => !ADDRESS.test(item) || item.startsWith('-'));
  if (bad !== undefined) throw new Invalid(`has ${show(bad)}, which is not a mail address`);
  return [...new Set(items)];
};

const address: FieldParser<string> = (value) => {
  if (!ADDRESS.test(value) || value.startsWith('-')) throw new Invalid('is not a mail address');
  return value;
};

/** The webhook as logs show it: scheme and host only, since Slack and Mattermost keep the token in the path. */
export const webhookShown = (url: URL): string => `${url.protocol}//${url.host}/…`;

export const notifySection = {
  webhook: optional('an http(s) URL such as https://chat.example.org/hooks/KEY', httpUrl),
  mail_to: optional('a comma list of mail addresses', addresses),
  mail_from: optional('a mail address', address),
  sendmail: optional('the path of a sendmail program', (value: string) => value),
  per_hour: withDefault('a whole number from 1 to 1000', integer(1, 1000), 20),
  proxy_warn_hours: withDefault('hours, more than 0', positiveNumber(10_000), 48),
};

/** The program a name or path means: a path as given (relative to the config file), a bare name on PATH. */
function findProgram(name: string, base: string, env: NodeJS.ProcessEnv): string | undefined {
  const runnable = (path: string) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(base, name);
    return runnable(path) ? path : undefined;
  }
  return (env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== '')
    .map((folder) => join(folder, name))
    .find(runnable);
}

/** The parsed `[notify]` values resolved; problems (a sendmail that is not there) are added as lines. */
export function resolveNotify(
  raw: {
    webhook?: URL;
    mail_to?: string[];
    mail_from?: string;
    sendmail?: string;
    per_hour: number;
    proxy_warn_hours: number;
  },
  where: string,
  base: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): NotifyConfig {
  let sendmail = raw.sendmail ?? DEFAULT_SENDMAIL;
  let sendmailMissing: string | undefined;
  if (raw.mail_to !== undefined) {
    const found = findProgram(sendmail, base, env);
    if (found === undefined)
      sendmailMissing = `${where}: [notify] sendmail: ${show(sendmail)} does not exist or is not executable (expected the path of a sendmail program, since mail_to is set)`;
    sendmail = found ?? sendmail;
  } else if (raw.sendmail !== undefined || raw.mail_from !== undefined) {
    problems.push(
      `${where}: [notify] mail_to: is missing (expected a comma list of mail addresses to go with ${raw.sendmail !== undefined ? 'sendmail' : 'mail_from'})`,
    );
  }
  return {
    ...(raw.webhook !== undefined && {
      webhook: { url: new Secret(raw.webhook.toString()), shown: webhookShown(raw.webhook) },
    }),
    mailTo: raw.mail_to ?? [],
    ...(raw.mail_from !== undefined && { mailFrom: raw.mail_from }),
    sendmail,
    ...(sendmailMissing !== undefined && { sendmailMissing }),
    perHour: raw.per_hour,
    proxyWarnHours: raw.proxy_warn_hours,
  };
}
