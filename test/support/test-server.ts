/**
 * Which CouchDB the tests use. With GASP_TEST_COUCHDB_URL set: that server, logged in as
 * GASP_TEST_COUCHDB_USER with GASP_TEST_COUCHDB_PASSWORD (CouchDB 3 lets only an admin create
 * databases); without it, the embedded PouchDB Server that global-setup.ts starts for the run.
 */
import { Couch, type CouchOptions } from '../../src/db/couch.js';
import { Secret } from '../../src/secret.js';

export const URL_ENV = 'GASP_TEST_COUCHDB_URL';
export const USER_ENV = 'GASP_TEST_COUCHDB_USER';
export const PASSWORD_ENV = 'GASP_TEST_COUCHDB_PASSWORD';

/** Every database a test makes on the shared server is named so; the end of the run lists those left. */
export const TEST_DATABASE_PREFIX = 't-';

/** The external server's URL, or undefined for the embedded one. Credentials belong in the other two variables. */
export function externalUrl(env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const text = env[URL_ENV];
  if (text === undefined || text === '') return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${URL_ENV}: is not a URL (expected such as http://127.0.0.1:5984)`);
  }
  if (url.username !== '' || url.password !== '')
    throw new Error(`${URL_ENV}: has a user or password in it (expected them in ${USER_ENV} and ${PASSWORD_ENV})`);
  return url;
}

/** The login for the external server; none for the embedded one. */
export function testCredentials(env: NodeJS.ProcessEnv = process.env): Pick<CouchOptions, 'user' | 'password'> {
  const user = env[USER_ENV];
  const password = env[PASSWORD_ENV];
  if (externalUrl(env) === undefined || user === undefined || user === '' || password === undefined) return {};
  return { user, password: new Secret(password) };
}

export function couchAt(url: string | URL, options: Partial<CouchOptions> = {}): Couch {
  return new Couch({ url: new URL(url), ...testCredentials(), ...options });
}
