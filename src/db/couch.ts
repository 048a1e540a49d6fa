import nano from 'nano';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { displayUrl } from '../scrub.js';
import type { Secret } from '../secret.js';
import { backoffDelay, COMMAND_RETRY, sleep, type RetryPolicy } from './backoff.js';
import type { CouchConfig } from '../config/config.js';
import { Database, type CouchRequest, type HttpMethod } from './database.js';

export type { CouchRequest, HttpMethod };
import { isTransient, mapError, UnreachableError, type DbError } from './errors.js';

export interface CouchOptions {
  url: URL;
  user?: string;
  password?: Secret;
  timeoutMs?: number;
  retry?: RetryPolicy;
  log?: Logger;
  /** Stops retrying when aborted (a client shutting down). */
  signal?: AbortSignal;
}

type NanoRequest = (
  options: Omit<CouchRequest, 'timeoutMs'> & { method: string; signal: AbortSignal },
) => Promise<unknown>;

/**
 * A CouchDB server: the one place requests are made. Every request gets a timeout, its errors
 * mapped to our classes, and transient failures retried with backoff. An outage is logged once
 * when it starts and once when it ends, not once per retry.
 */
export class Couch {
  /** The server's URL for messages, without credentials. */
  readonly url: string;
  readonly #request: NanoRequest;
  readonly #log: Logger;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  #outageSince: number | undefined;

  constructor(options: CouchOptions) {
    const url = new URL(options.url);
    url.username = '';
    url.password = '';
    this.url = displayUrl(url);
    const headers: Record<string, string> = {};
    if (options.user !== undefined && options.password !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${options.user}:${options.password.reveal()}`).toString('base64')}`;
    }
    // parseUrl: false keeps a path such as https://host/couchdb as the server, not a database
    const server = nano({ url: this.url, headers, parseUrl: false } as nano.Configuration);
    // nano passes `signal` through to fetch, but its RequestOptions type does not declare it
    this.#request = server.request as unknown as NanoRequest;
    this.#log = (options.log ?? silentLogger).child({ component: 'db' });
    this.#retry = options.retry ?? COMMAND_RETRY;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#signal = options.signal;
  }

  /** One request, retried through transient failures. Throws a DbError subclass. */
  async request<T>(request: CouchRequest): Promise<T> {
    const method = request.method ?? 'GET';
    const target = [request.db, request.doc ?? request.path].filter((part) => part !== undefined).join('/');
    const label = `${method} ${this.url}/${target}`;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      let error: DbError;
      try {
        const { timeoutMs = this.#timeoutMs, ...rest } = request;
        const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : new AbortController().signal;
        // in an outage, stopping also ends the retry in flight (a server that takes connections and never answers); its outcome is as unknown as a timeout's
        const signal = attempt > 1 && this.#signal !== undefined ? AbortSignal.any([timeout, this.#signal]) : timeout;
        const answer = (await this.#request({ ...rest, method, signal })) as T;
        this.#reachable(attempt);
        return answer;
      } catch (thrown) {
        error = mapError(thrown, label);
      }
      if (!isTransient(error)) {
        if (error.statusCode !== undefined) this.#reachable(attempt);
        throw error;
      }
      if (this.#outageSince === undefined) {
        this.#outageSince = Date.now();
        this.#log.warn(
          { url: this.url, reason: error.reason },
          `CouchDB unavailable (${error.reason ?? error.message}); retrying with backoff`,
        );
      }
      const giveUp = () =>
        new UnreachableError(
          {
            request: label,
            ...(error.statusCode !== undefined && { statusCode: error.statusCode }),
            ...(error.reason !== undefined && { reason: error.reason }),
          },
          `${error.message}; gave up after ${attempt} ${attempt === 1 ? 'try' : 'tries'} over ${((Date.now() - started) / 1000).toFixed(1)}s`,
        );
      if (attempt >= this.#retry.attempts || this.#signal?.aborted) throw giveUp();
      const delay = backoffDelay(this.#retry, attempt);
      this.#log.debug({ attempt, delay, request: label }, 'retrying');
      await sleep(delay, this.#signal);
      // a client asked to stop while the server is away stops now, not after one more try
      if (this.#signal?.aborted) throw giveUp();
    }
  }

  #reachable(attempt: number): void {
    if (this.#outageSince === undefined) return;
    const seconds = ((Date.now() - this.#outageSince) / 1000).toFixed(1);
    this.#outageSince = undefined;
    this.#log.info({ url: this.url, attempt }, `CouchDB reachable again after ${seconds}s`);
  }

  /** The server's welcome answer (`GET /`): CouchDB and PouchDB Server both give one. */
  welcome(): Promise<{ version?: string; vendor?: { name?: string } }> {
    return this.request({});
  }

  use(name: string): Database {
    return new Database(this, name);
  }

  listDatabases(): Promise<string[]> {
    return this.request({ path: '_all_dbs' });
  }
}

/** The server a config file names, with its credentials and timeout. */
export function couchFromConfig(
  config: CouchConfig,
  options: Pick<CouchOptions, 'retry' | 'log' | 'signal'> = {},
): Couch {
  return new Couch({
    url: config.url,
    timeoutMs: config.timeoutMs,
    ...(config.user !== undefined && { user: config.user }),
    ...(config.password !== undefined && { password: config.password }),
    ...options,
  });
}

/**
 * The server a config file names, for checking it rather than working with it (`gasp doctor`, the
 * checks at enqueue's start): one try, `timeoutMs` at most, logging nothing; the caller says what it found.
 */
export function probeCouch(config: CouchConfig, timeoutMs = 10_000): Couch {
  return couchFromConfig(
    { ...config, timeoutMs: Math.min(config.timeoutMs, timeoutMs) },
    { retry: { attempts: 1, baseMs: 0, maxMs: 0 }, log: silentLogger },
  );
}
