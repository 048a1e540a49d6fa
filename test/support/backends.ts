import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, BackendStatus, PreparedJob } from '../../src/backends/backend.js';

/** A job running a shell script of our own: it sleeps, then exits with the code given. */
export function scriptJob(name: string, script: string): PreparedJob {
  const workdir = mkdtempSync(join(tmpdir(), `gasp-job-${name}-`));
  const file = join(workdir, 'job.sh');
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return {
    name: `gasp-test-${name}`,
    workdir,
    command: [file],
    stdout: join(workdir, 'job.out'),
    stderr: join(workdir, 'job.err'),
  };
}

/** Polls a backend until the job's state satisfies `done`. */
export async function waitFor(
  backend: Backend,
  id: string,
  done: (status: BackendStatus) => boolean,
  timeoutMs = 60_000,
): Promise<BackendStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await backend.status([id])).get(id) ?? { state: 'lost' };
    if (done(status) || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export const finished = (status: BackendStatus) =>
  status.state === 'completed' || status.state === 'failed' || status.state === 'lost';
