import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // the default output, then each skipped test named with its reason
    reporters: ['default', fileURLToPath(new URL('test/support/skipped-reporter.ts', import.meta.url))],
    // after each file's last test, the databases it named are dropped
    setupFiles: ['test/support/drop-databases.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // each file has its own databases, so files can share one server and run in parallel
    fileParallelism: true,
  },
});
