/**
 * The server the bench measures: its own embedded PouchDB Server, or with `--url URL` an existing
 * CouchDB, logged in as $GASP_BENCH_COUCHDB_USER with $GASP_BENCH_COUCHDB_PASSWORD. Every database
 * the bench makes carries this run's tag and is dropped at the end, so a shared server is left as
 * it was found.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Couch } from '../src/db/couch.js';
import type { Database } from '../src/db/database.js';
import { NotFoundError } from '../src/db/errors.js';
import type { Pass } from '../src/model/documents.js';
import { scrubValue } from '../src/scrub.js';
import { Secret } from '../src/secret.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { freshDatabase } from './seed.js';

export const USER_ENV = 'GASP_BENCH_COUCHDB_USER';
export const PASSWORD_ENV = 'GASP_BENCH_COUCHDB_PASSWORD';

export class BenchServer {
  /** Such as "CouchDB 3.5.0": the figures are this server's. */
  readonly name: string;
  /** PouchDB Server: the summary tallies of gasp serve apply (numeric update_seq). */
  readonly pouchdb: boolean;
  readonly #made: string[] = [];
  readonly #tag = randomBytes(3).toString('hex');

  private constructor(
    readonly couch: Couch,
    readonly url: URL,
    readonly user: string | undefined,
    welcome: Record<string, unknown>,
    readonly embedded: EmbeddedServer | undefined,
  ) {
    this.pouchdb = welcome['express-pouchdb'] !== undefined;
    this.name =
      `${this.pouchdb ? 'PouchDB Server' : 'CouchDB'} ${typeof welcome.version === 'string' ? welcome.version : ''}`.trim();
  }

  /** `url` undefined: an embedded server of its own in `work`. */
  static async open(url: URL | undefined, work: string, env: NodeJS.ProcessEnv = process.env): Promise<BenchServer> {
    if (url === undefined) {
      const embedded = await EmbeddedServer.start({ dir: join(work, 'db') });
      return BenchServer.#connect(embedded.url, undefined, undefined, embedded);
    }
    return BenchServer.#connect(url, env[USER_ENV], env[PASSWORD_ENV], undefined);
  }

  static async #connect(
    url: URL,
    user: string | undefined,
    password: string | undefined,
    embedded: EmbeddedServer | undefined,
  ): Promise<BenchServer> {
    const login = user !== undefined && password !== undefined ? user : undefined;
    const couch = new Couch({
      url,
      timeoutMs: 600_000,
      ...(login !== undefined && password !== undefined && { user: login, password: new Secret(password) }),
    });
    try {
      return new BenchServer(couch, url, login, await couch.request<Record<string, unknown>>({}), embedded);
    } catch (error) {
      await embedded?.stop();
      throw error;
    }
  }

  /** A new database of this run, seeded as `freshDatabase` does; dropped by `close`. */
  async fresh(what: string, jobs = 0, status: Pass['status'] = 'waiting'): Promise<Database> {
    const name = `bench-${this.#tag}-${what}`;
    this.#made.push(name);
    return freshDatabase(this.couch, name, jobs, status);
  }

  /** The [couchdb] section of a config file for a `gasp` process on this database (the password by variable name). */
  configSection(database: string): string {
    const login = this.user === undefined ? '' : `user = ${this.user}\npassword_env = ${PASSWORD_ENV}\n`;
    return `[couchdb]\nurl = ${this.url.href}\ndatabase = ${database}\n${login}`;
  }

  async close(): Promise<void> {
    try {
      const kept: string[] = [];
      await Promise.all(
        this.#made.map((name) =>
          this.couch
            .use(name)
            .destroy()
            .catch((error: unknown) => error instanceof NotFoundError || kept.push(name)),
        ),
      );
      if (kept.length > 0) process.stderr.write(`could not drop ${kept.join(', ')} on ${this.couch.url}\n`);
    } finally {
      await this.embedded?.stop();
    }
  }
}

/** `--url`'s value: a URL without credentials in it, or a one-line problem. */
export function benchUrl(text: string | undefined): URL | string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--url: "${scrubValue(text)}" is not a URL (expected such as http://127.0.0.1:5984)`;
  }
  if (url.username !== '' || url.password !== '')
    return `--url: has a user or password in it (expected them in $${USER_ENV} and $${PASSWORD_ENV})`;
  return url;
}
