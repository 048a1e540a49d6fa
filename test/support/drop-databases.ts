/** Run before each test file (vitest setupFiles): after its last test, the databases it named are dropped. */
import { afterAll } from 'vitest';
import { dropTestDatabases } from './couch.js';

afterAll(dropTestDatabases);
