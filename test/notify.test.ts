import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import type { ClientContext } from '../src/client/context.js';
import { runCycle } from '../src/client/cycle.js';
import { loadConfig } from '../src/config/config.js';
import type { Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { notifyId, type NotifyDoc } from '../src/model/notify.js';
import { policyId, type PolicyDoc } from '../src/model/policy.js';
import { notifyFinished, notifyStale, pauseEvent, proxyEvent } from '../src/notify/events.js';
import { heartbeatId, type HeartbeatDoc } from '../src/model/coordination.js';
import { overview } from '../src/dashboard/data.js';
import { lastNotifications } from '../src/shifter/notifications.js';
import { Notifier } from '../src/notify/notifier.js';
import { receiversOf } from '../src/notify/receivers.js';
import { gaspOn, runGasp } from './support/cli.js';
import { couchEnv, couchSection } from './support/couch.js';
import { folderWith } from './support/files.js';
import { context, databaseWithJobs, runUntilEnded } from './support/jobs.js';

const FAST = { attempts: 5, baseMs: 20, maxMs: 100 };

/** A webhook receiver: records each POST's JSON body; answers each with the next status given (then 200), or never. */
async function webhookReceiver(answers: Array<number | 'hang'> = []) {
  const bodies: Array<Record<string, unknown>> = [];
  const sockets = new Set<Socket>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      const answer = answers.shift() ?? 200;
      if (answer !== 'hang') response.writeHead(answer).end();
    });
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closers.push(close);
  // a token in the path, as Mattermost and Slack have it
  return { url: `http://127.0.0.1:${port}/hooks/s3cr3t-token`, bodies };
}

/** A stand-in sendmail that appends its argv and stdin to a file; returns its path and the calls so far. */
function fakeSendmail() {
  const dir = folderWith({});
  const log = join(dir, 'mail.log');
  const path = join(dir, 'sendmail');
  writeFileSync(path, `#!/bin/sh\n{ echo "ARGV: $*"; cat; echo "--END--"; } >> "${log}"\n`);
  chmodSync(path, 0o755);
  const calls = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('--END--\n')
          .filter((call) => call.trim() !== '')
      : [];
  return { path, calls };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The [notify] of a config file naming these receivers, as the client reads it. */
function notifyConfig(lines: string) {
  const dir = folderWith({ 'gasp.cfg': `[notify]\n${lines}` });
  return loadConfig(join(dir, 'gasp.cfg')).notify;
}

function notifierFor(db: Database, site: string, lines: string, perHour = 20, windowMs?: number): Notifier {
  const config = notifyConfig(lines);
  return new Notifier({
    db,
    log: silentLogger,
    site,
    receivers: receiversOf(config),
    perHour,
    retry: FAST,
    ...(windowMs !== undefined && { windowMs }),
  });
}

/** The heartbeat of a site whose client last beat at `beat` and never stopped. */
const staleHeartbeat = (site: string, beat: string): HeartbeatDoc => ({
  _id: heartbeatId(site, 'production'),
  type: 'heartbeat',
  site,
  host: 'h',
  pid: 1,
  instance: 'i',
  mode: 'production',
  version: 'v',
  takes_turns: false,
  started: beat,
  beat,
});

const withNotifier = (ctx: ClientContext, notifier: Notifier): ClientContext => ({ ...ctx, notifier });

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('notifications', () => {
  it('an auto-pause seen by two sites sends exactly one webhook call and one mail', async () => {
    const db = await databaseWithJobs(12, 'notify-pause');
    expect((await gaspOn(db, ['policy', '--label', 'enq', '--pause-after', '2/4'])).code).toBe(0);
    const hook = await webhookReceiver();
    const mail = fakeSendmail();
    const lines = `webhook = ${hook.url}\nmail_to = shifter@example.org\nsendmail = ${mail.path}\n`;
    const [notifierA, notifierB] = [notifierFor(db, 'a', lines), notifierFor(db, 'b', lines)];
    const failing = () => new DryBackend({ outcome: 'failed', exitCode: 20 });
    const a = { ...withNotifier(context(db, 'a', failing()), notifierA), maxClaim: 4 };
    const b = { ...withNotifier(context(db, 'b', failing()), notifierB), maxClaim: 4 };
    await Promise.all([runCycle(a, { submit: true, monitor: false }), runCycle(b, { submit: true, monitor: false })]);
    await Promise.all([runCycle(a, { submit: true, monitor: true }), runCycle(b, { submit: true, monitor: true })]);
    const paused = (await db.find<PolicyDoc>(policyId('enq')))?.paused;
    expect(paused?.reason).toMatch(/ended passes failed/);
    // each site hears of the pause (a restart, a second look): still one message per receiver
    for (const notifier of [notifierA, notifierB])
      notifier.notify(pauseEvent('enq', paused ?? { since: '', reason: '', by: '' }));
    await Promise.all([notifierA.idle(), notifierB.idle()]);

    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toMatchObject({ kind: 'pause', label: 'enq', subject: 'enq', database: db.name });
    expect(hook.bodies[0]?.text).toMatch(/^\*\*gasp: label enq paused\*\*\n.*ended passes failed \(exit codes: 20/);
    const calls = mail.calls();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^ARGV: -oi -- shifter@example.org\n/);
    expect(calls[0]).toContain('Subject: gasp: label enq paused\n');
    const doc = await db.find<NotifyDoc>(notifyId(pauseEvent('enq', paused ?? { since: '', reason: '', by: '' })));
    expect(Object.values(doc?.receivers ?? {}).map((delivery) => delivery.state)).toEqual(['sent', 'sent']);
    // the token in the webhook's path is never written down
    expect(JSON.stringify(doc)).not.toContain('s3cr3t');
    expect(Object.keys(doc?.receivers ?? {})).toEqual([
      'webhook http://127.0.0.1:' + new URL(hook.url).port + '/…',
      'mail shifter@example.org',
    ]);

    const why = await gaspOn(db, ['why', '--label', 'enq']);
    expect(why.stdout).toMatch(
      /^last notification for label enq: gasp: label enq paused \(\S+, site [ab]; webhook http:\/\/127\.0\.0\.1:\d+\/… sent, mail shifter@example.org sent\)$/m,
    );
    expect(why.stdout + why.stderr).not.toContain('s3cr3t');
    expect((await lastNotifications(db)).map((last) => last.about)).toEqual(['label enq']);
    const shown = (await overview(db, 'production', 1800)).notifications;
    expect(shown.map((last) => [last.about, last.kind, last.title])).toEqual([
      ['label enq', 'pause', 'gasp: label enq paused'],
    ]);
  });

  it('a site stale for longer than stale is told once, however many sites see it', async () => {
    const db = await databaseWithJobs(1, 'notify-stale');
    const beat = new Date(Date.now() - 7200_000).toISOString();
    await db.put(staleHeartbeat('gone', beat));
    const hook = await webhookReceiver();
    const notifiers = ['a', 'b'].map((site) => notifierFor(db, site, `webhook = ${hook.url}\n`));
    const clock = { ageSeconds: (iso: string) => (Date.now() - Date.parse(iso)) / 1000 };
    await Promise.all(notifiers.map((notifier) => notifyStale(db, notifier, clock, 1800)));
    await Promise.all(notifiers.map((notifier) => notifier.idle()));
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toMatchObject({ kind: 'stale', site: 'gone', mode: 'production', last_heartbeat: beat });
    expect(hook.bodies[0]?.text).toMatch(/last heartbeat was 7\d{3} s ago .*more than stale \(1800 s\)/);
  });

  it("a site quarantining itself is told once, with the reason, and shows as the site's last notification", async () => {
    const db = await databaseWithJobs(8, 'notify-quarantine');
    const hook = await webhookReceiver();
    const notifier = notifierFor(db, 'broken', `webhook = ${hook.url}\n`);
    const base = withNotifier(context(db, 'broken', new DryBackend({ outcome: 'failed', exitCode: 10 })), notifier);
    const ctx = { ...base, maxClaim: 4, site: { ...base.site, quarantineAfter: { failed: 2, of: 4 } } };
    await runCycle(ctx, { submit: true, monitor: false });
    expect((await runCycle(ctx, { submit: true, monitor: true })).quarantined).toMatch(/setup 4/);
    await runCycle(ctx, { submit: true, monitor: true });
    await notifier.idle();
    expect(hook.bodies.filter((body) => body.kind === 'quarantine')).toEqual([
      expect.objectContaining({ site: 'broken', reason: '4 of its last 4 ended attempts failed (setup 4)' }),
    ]);
    const shown = await lastNotifications(db);
    expect(shown.find((last) => last.about === 'site broken')?.title).toBe('gasp: site broken quarantined');
  });

  it('a receiver that fails twice then answers gets the message once', async () => {
    const db = await databaseWithJobs(1, 'notify-retry');
    const hook = await webhookReceiver([500, 503]);
    const notifier = notifierFor(db, 'a', `webhook = ${hook.url}\n`);
    const event = proxyEvent('a', { hoursLeft: 30, warnHours: 48, now: new Date('2026-12-01T10:10:00Z') });
    notifier.notify(event);
    notifier.notify(event);
    await notifier.idle();
    // three tries, the last one taken: the receiver shows the message once
    expect(hook.bodies).toHaveLength(3);
    expect(new Set(hook.bodies.map((body) => JSON.stringify(body))).size).toBe(1);
    expect(hook.bodies[0]).toMatchObject({ kind: 'proxy', site: 'a', hours_left: 30, expires: '2026-12-02T16:00Z' });
    const doc = await db.find<NotifyDoc>(notifyId(event));
    expect(Object.values(doc?.receivers ?? {})).toEqual([expect.objectContaining({ state: 'sent', tries: 3 })]);
  });

  it('a dead receiver does not delay the cycle that auto-pauses', async () => {
    const db = await databaseWithJobs(8, 'notify-dead');
    expect((await gaspOn(db, ['policy', '--label', 'enq', '--pause-after', '2/4'])).code).toBe(0);
    // answers nothing, ever: each try would take the 20 s timeout on the cycle's path
    const hook = await webhookReceiver(['hang', 'hang', 'hang']);
    const notifier = notifierFor(db, 'a', `webhook = ${hook.url}\n`);
    const ctx = { ...withNotifier(context(db, 'a', new DryBackend({ outcome: 'failed' })), notifier), maxClaim: 4 };
    await runCycle(ctx, { submit: true, monitor: false });
    const started = Date.now();
    const stats = await runCycle(ctx, { submit: true, monitor: true });
    const ms = Date.now() - started;
    expect(stats.failed).toBe(4);
    await until(() => hook.bodies.length === 1);
    // the message reached the receiver, which has not answered, and the cycle was long over
    expect(ms).toBeLessThan(5_000);
    expect((await db.find<PolicyDoc>(policyId('enq')))?.paused).toBeDefined();
    await notifier.stop(0);
  });

  it('a label finishing sends one message with its summary', async () => {
    const db = await databaseWithJobs(3, 'notify-finished');
    const hook = await webhookReceiver();
    const notifier = notifierFor(db, 'a', `webhook = ${hook.url}\n`);
    const ctx = withNotifier(context(db, 'a', new DryBackend()), notifier);
    await runUntilEnded(ctx, 50);
    await notifier.idle();
    // looked at again (another site, a later cycle): the same finish is not told twice
    notifier.background(() => notifyFinished(db, notifier, ['enq']));
    await notifier.idle();
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toMatchObject({ kind: 'finished', label: 'enq', generation: 'completed3', passes: 3 });
    expect(hook.bodies[0]?.text).toMatch(
      /^\*\*gasp: label enq finished \(3 passes, [\d.]+% completed\)\*\*\n3 passes: /,
    );
    expect(hook.bodies[0]?.text).toContain('gasp summary --label enq');
  });

  it('holds back what is over the hourly limit and sends it as one message later', async () => {
    const db = await databaseWithJobs(1, 'notify-limit');
    const hook = await webhookReceiver();
    const notifier = notifierFor(db, 'a', `webhook = ${hook.url}\n`, 2, 500);
    for (const site of ['s1', 's2', 's3', 's4'])
      notifier.notify(proxyEvent(site, { hoursLeft: 1, warnHours: 48, now: new Date('2026-12-02T09:00:00Z') }));
    await notifier.idle();
    expect(hook.bodies.map((body) => body.site)).toEqual(['s1', 's2']);
    await until(() => hook.bodies.length === 3);
    expect(hook.bodies[2]).toMatchObject({ kind: 'summary', count: 2 });
    expect(hook.bodies[2]?.text).toMatch(/held back by the limit of 2 an hour\*\*\n- .*site s3.*\n- .*site s4/);
    await notifier.idle();
    const doc = await db.find<NotifyDoc>(notifyId({ kind: 'proxy', subject: 's4', generation: '2026-12-02T10:00Z' }));
    expect(Object.values(doc?.receivers ?? {}).map((delivery) => delivery.state)).toEqual(['summarised']);
  });
});

describe('gasp enqueue with [notify]', () => {
  it('tells of a stale site once, by webhook and mail, and logs the webhook without its token', async () => {
    const db = await databaseWithJobs(1, 'notify-enqueue');
    await db.put(staleHeartbeat('gone', new Date(Date.now() - 7200_000).toISOString()));
    const hook = await webhookReceiver();
    const mail = fakeSendmail();
    const dir = folderWith({
      'site.ini': 'name = here\nbackend = dry\nstorage = file:///tmp/gasp-test-storage\n[rat]\n7.0.8 = CVMFS\n',
      'gasp.cfg': `${couchSection(db.name)}[client]\nsite = site.ini\n[notify]\nwebhook = ${hook.url}\nmail_to = shifter@example.org\nsendmail = ${mail.path}\n`,
    });
    const run = () => runGasp(['enqueue', '--once', '-c', join(dir, 'gasp.cfg')], { cwd: dir, env: couchEnv() });
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.stdout + first.stderr).toMatch(
      /notifications go to webhook http:\/\/127\.0\.0\.1:\d+\/… and mail shifter@example\.org/,
    );
    expect(first.stdout + first.stderr).not.toContain('s3cr3t');
    // a second client of the database sees the same stale site: not told again; its cycle ends the
    // dry pass the first one submitted, and the label, finished, is told
    expect((await run()).code).toBe(0);
    expect(hook.bodies.map((body) => [body.kind, body.site ?? body.label])).toEqual([
      ['stale', 'gone'],
      ['finished', 'enq'],
    ]);
    const calls = mail.calls();
    expect(calls).toHaveLength(2);
    expect(calls[0]).toContain('Subject: gasp: site gone (production) stale\n');
    expect(calls[1]).toMatch(/Subject: gasp: label enq finished \(1 pass, 100\.0% completed\)\n/);
  });

  it('tells of a grid proxy below proxy_warn_hours once, with the hours left', async () => {
    const db = await databaseWithJobs(1, 'notify-proxy');
    const hook = await webhookReceiver();
    const bin = folderWith({ 'voms-proxy-info': '#!/bin/sh\necho 108000\n' });
    chmodSync(join(bin, 'voms-proxy-info'), 0o755);
    const dir = folderWith({
      'site.ini':
        'name = here\nbackend = dry\nproxy = voms\nstorage = file:///tmp/gasp-test-storage\n[rat]\n7.0.8 = CVMFS\n',
      'gasp.cfg': `${couchSection(db.name)}[client]\nsite = site.ini\n[notify]\nwebhook = ${hook.url}\n`,
    });
    const result = await runGasp(['enqueue', '--once', '-c', join(dir, 'gasp.cfg')], {
      cwd: dir,
      env: { ...couchEnv(), PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    expect(result.code).toBe(0);
    expect(hook.bodies).toEqual([
      expect.objectContaining({ kind: 'proxy', site: 'here', hours_left: 30, warn_hours: 48 }),
    ]);
    expect(hook.bodies[0]?.text).toMatch(/^\*\*gasp: the grid proxy of site here has 30 h left\*\*\n/);
  });
});

describe('[notify] config', () => {
  it('refuses a webhook that is not a URL and a sendmail that does not exist: one line each, exit 2, naming file and field', async () => {
    const dir = folderWith({
      'bad-url.cfg': '[notify]\nwebhook = chat.example.org/hooks/x\n',
      'no-sendmail.cfg': '[notify]\nmail_to = shifter@example.org\nsendmail = /nonexistent/sendmail\n',
    });
    const url = await runGasp(['config', 'check', join(dir, 'bad-url.cfg')]);
    expect(url.code).toBe(2);
    expect(url.stderr.trim().split('\n')).toEqual([
      `${join(dir, 'bad-url.cfg')}: [notify] webhook: "chat.example.org/hooks/x" is not a URL (expected an http(s) URL such as https://chat.example.org/hooks/KEY)`,
    ]);
    const mail = await runGasp(['config', 'check', join(dir, 'no-sendmail.cfg')]);
    expect(mail.code).toBe(2);
    expect(mail.stderr.trim().split('\n')).toEqual([
      `${join(dir, 'no-sendmail.cfg')}: [notify] sendmail: "/nonexistent/sendmail" does not exist or is not executable (expected the path of a sendmail program, since mail_to is set)`,
    ]);
  });

  it('lets a machine without sendmail read with a shared config; only the commands that send or check refuse, and doctor names it', async () => {
    const db = await databaseWithJobs(1, 'laptop');
    const dir = folderWith({
      'laptop.cfg': `${couchSection(db.name)}[notify]\nmail_to = shifter@example.org\nsendmail = /nonexistent/sendmail\n`,
    });
    const config = join(dir, 'laptop.cfg');
    const missing = `${config}: [notify] sendmail: "/nonexistent/sendmail" does not exist or is not executable (expected the path of a sendmail program, since mail_to is set)`;
    const summary = await runGasp(['summary', '--label', 'enq', '-c', config]);
    expect(summary.code).toBe(0);
    const enqueue = await runGasp(['enqueue', '--once', '-c', config]);
    expect([enqueue.code, enqueue.stderr.trim()]).toEqual([2, missing]);
    const doctor = await runGasp(['doctor', '-c', config]);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(`✗ notifications: ${missing}`);
  });

  it('takes every [notify] key from GASP_NOTIFY_* and shows the webhook without its token', async () => {
    const mail = fakeSendmail();
    const dir = folderWith({
      'site.ini': 'backend = local\nstorage = file:///tmp/gasp-test-storage\n[rat]\n7.0.8 = CVMFS\n',
      'gasp.cfg': '[client]\nsite = site.ini\n',
    });
    const result = await runGasp(['config', 'check', join(dir, 'gasp.cfg')], {
      env: {
        GASP_NOTIFY_WEBHOOK: 'https://chat.example.org/hooks/s3cr3t-token',
        GASP_NOTIFY_MAIL_TO: 'a@example.org, b@example.org',
        GASP_NOTIFY_SENDMAIL: mail.path,
        GASP_NOTIFY_PER_HOUR: '5',
      },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /^\[notify\]\n +webhook +https:\/\/chat\.example\.org\/…\n +mail_to +a@example\.org, b@example\.org\n +sendmail +\S+\/sendmail\n +per_hour +5$/m,
    );
    expect(result.stdout).not.toContain('s3cr3t');
  });
});
