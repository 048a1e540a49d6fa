import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder gasp is installed in: the bundled views/, config/ and sites/ live here. */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const BUNDLED_VIEWS = fileURLToPath(new URL('../views', import.meta.url));

/** The fixture RAT release bundled for the demo and the tests (test/fixtures/rat-7.0.8; not real RAT). */
export const FIXTURE_RELEASE = fileURLToPath(new URL('../test/fixtures/rat-7.0.8', import.meta.url));

/** The fixture request `npm start` submits. */
export const FIXTURE_JOBS = fileURLToPath(new URL('../test/fixtures/jobs.json', import.meta.url));

/** This gasp's version, from its package.json (heartbeats and `--version` say it). */
export const GASP_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
