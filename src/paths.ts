import { fileURLToPath } from 'node:url';

/** The folder gasp is installed in: the bundled views/, config/ and sites/ live here. */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const BUNDLED_VIEWS = fileURLToPath(new URL('../views', import.meta.url));
