import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Mode } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { PACKAGE_ROOT } from '../paths.js';
import { listenOn } from '../server/ports.js';
import type { Secret } from '../secret.js';
import { overview, type Overview } from './data.js';

export interface DashboardOptions {
  host: string;
  port: number;
  databases: Partial<Record<Mode, Database>>;
  staleSeconds: number;
  /** Asked of every request when set (required beyond this machine). */
  credential?: { user: string; password: Secret };
  log: Logger;
}

/** The page's own files, and ECharts from the installed package: nothing is fetched from elsewhere. */
const PAGE = join(PACKAGE_ROOT, 'dashboard');
const ECHARTS = join(dirname(createRequire(import.meta.url).resolve('echarts')), 'echarts.min.js');
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: join(PAGE, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(PAGE, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: join(PAGE, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/echarts.min.js': { file: ECHARTS, type: 'text/javascript; charset=utf-8' },
};

/** An overview is computed at most this often per database, however many pages poll. */
const FRESH_MS = 2_000;

const HEADERS = {
  // nothing runs but our own scripts: a module named <script> in a document stays text
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);

function authorized(request: IncomingMessage, credential: DashboardOptions['credential']): boolean {
  if (credential === undefined) return true;
  const expected = Buffer.from(
    `Basic ${Buffer.from(`${credential.user}:${credential.password.reveal()}`).toString('base64')}`,
  );
  const given = Buffer.from(request.headers.authorization ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type OverviewOf = (mode: Mode, db: Database) => Promise<Overview>;

/** One computation at a time per database, reused until FRESH_MS after it finished: slow reads never pile up. */
function overviewCache(staleSeconds: number): OverviewOf {
  const cache = new Map<Mode, { done: number | undefined; answer: Promise<Overview> }>();
  return (mode, db) => {
    const cached = cache.get(mode);
    if (cached !== undefined && (cached.done === undefined || Date.now() - cached.done < FRESH_MS))
      return cached.answer;
    const entry: { done: number | undefined; answer: Promise<Overview> } = {
      done: undefined,
      answer: overview(db, mode, staleSeconds),
    };
    cache.set(mode, entry);
    entry.answer.then(
      () => (entry.done = Date.now()),
      () => cache.delete(mode),
    );
    return entry.answer;
  };
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, { ...HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra });
  response.end(body);
}

/** What answering a request needs: the options, the host names known once listening, and the cached overviews. */
interface Dashboard {
  options: DashboardOptions;
  allowedHosts: Set<string> | undefined;
  overviewOf: OverviewOf;
}

async function handle(dashboard: Dashboard, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { options, allowedHosts } = dashboard;
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return send(response, 405, 'text/plain', 'the dashboard only reads\n', { allow: 'GET, HEAD' });
  // without a login, only this machine's own names: another site's page cannot reach it through a rebound DNS name
  if (options.credential === undefined && !(allowedHosts?.has((request.headers.host ?? '').toLowerCase()) ?? false))
    return send(response, 421, 'text/plain', 'not this server\n');
  if (!authorized(request, options.credential))
    return send(response, 401, 'text/plain', 'log in with the dashboard credential\n', {
      'www-authenticate': 'Basic realm="gasp dashboard", charset="UTF-8"',
    });
  const url = new URL(request.url ?? '/', 'http://dashboard');
  const file = FILES[url.pathname];
  if (file !== undefined) return send(response, 200, file.type, readFileSync(file.file));
  if (url.pathname === '/api/modes')
    return send(response, 200, 'application/json', JSON.stringify({ modes: Object.keys(options.databases) }));
  if (url.pathname === '/api/overview') return sendOverview(dashboard, url, response);
  return send(response, 404, 'text/plain', 'not found\n');
}

async function sendOverview(dashboard: Dashboard, url: URL, response: ServerResponse): Promise<void> {
  const { options } = dashboard;
  const mode = (url.searchParams.get('mode') ?? Object.keys(options.databases)[0]) as Mode;
  const db = options.databases[mode];
  if (db === undefined)
    return send(response, 404, 'application/json', JSON.stringify({ error: `no database for mode ${mode}` }));
  try {
    return send(response, 200, 'application/json', JSON.stringify(await dashboard.overviewOf(mode, db)));
  } catch (error) {
    options.log.warn(
      { mode, error: (error as Error).message },
      'the dashboard could not read the database; the page keeps its last numbers',
    );
    return send(response, 503, 'application/json', JSON.stringify({ error: (error as Error).message }));
  }
}

/**
 * The dashboard's HTTP server: the page, ECharts, and `/api/overview?mode=…`. Read-only: it
 * answers GET and HEAD only, and reads the databases through the views.
 */
export async function startDashboard(options: DashboardOptions): Promise<{ url: URL; close: () => Promise<void> }> {
  const dashboard: Dashboard = { options, allowedHosts: undefined, overviewOf: overviewCache(options.staleSeconds) };
  const server = createServer((request, response) => {
    handle(dashboard, request, response).catch((error: unknown) => {
      options.log.error({ error: (error as Error).message }, 'dashboard request failed');
      if (!response.headersSent) send(response, 500, 'text/plain', 'error\n');
    });
  });
  await listenOn(server, options.port, options.host, 'another gasp dashboard?');
  const address = server.address() as AddressInfo;
  dashboard.allowedHosts = new Set([
    `127.0.0.1:${address.port}`,
    `localhost:${address.port}`,
    `[::1]:${address.port}`,
    `${options.host}:${address.port}`,
  ]);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: new URL(`http://${host}:${address.port}/`),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
