/**
 * A fake Slurm on PATH for the benchmarks: `sbatch` hands out increasing job ids, `squeue` says
 * every job it is asked about is RUNNING, `sacct` knows nothing. Each call is logged one line per
 * call, so a figure can count how many calls a cycle made. (The real Slurm is in the tests; a bench
 * needs thousands of jobs that stay running.)
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeSlurm {
  /** The folder to put first on PATH. */
  bin: string;
  /** The programs called so far, one entry per call. */
  calls(): string[];
}

const SCRIPTS: Record<string, string> = {
  sbatch: `exec 9>>"$FAKE_SLURM/lock"; flock 9
next=$(( $(cat "$FAKE_SLURM/next" 2>/dev/null || echo 1000) + 1 ))
echo "$next" > "$FAKE_SLURM/next"
echo "$next"`,
  squeue: `ids=""
while [ $# -gt 0 ]; do [ "$1" = "-j" ] && ids="$2"; shift; done
[ -n "$ids" ] && printf '%s\\n' "\${ids//,/$'\\n'}" | sed '/^$/d; s/$/ RUNNING/'
exit 0`,
  sacct: 'exit 0',
  scancel: 'exit 0',
};

export function fakeSlurm(dir: string): FakeSlurm {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'calls');
  for (const [program, body] of Object.entries(SCRIPTS)) {
    const file = join(bin, program);
    writeFileSync(
      file,
      `#!/bin/bash\nFAKE_SLURM=${JSON.stringify(dir)}\necho ${program} >> "$FAKE_SLURM/calls"\n${body}\n`,
    );
    chmodSync(file, 0o755);
  }
  return { bin, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}
