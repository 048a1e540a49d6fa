import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite, type Site } from '../../src/sites/site.js';

/**
 * Whether a Slurm answers here (scripts/slurm-localhost.sh starts one; CI does so in .ci/run).
 * With GASP_REQUIRE_SLURM=1 (set by CI) a missing Slurm fails the run instead of skipping its tests.
 */
export const slurmAvailable = (() => {
  const answer = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8' });
  const up = answer.status === 0 && /idle|mixed|alloc/.test(answer.stdout);
  if (!up && process.env.GASP_REQUIRE_SLURM === '1')
    throw new Error('GASP_REQUIRE_SLURM=1 but no Slurm answers (run scripts/slurm-localhost.sh)');
  return up;
})();

/** Why a test that needs Slurm is skipped here. */
export const NO_SLURM = 'no Slurm answers here (sinfo): run scripts/slurm-localhost.sh as root, as .ci/run does';

/** A site file for the local Slurm: partition debug, short time limit. */
export function slurmSite(extra = ''): Site {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-slurm-site-'));
  writeFileSync(
    join(dir, 'slurm.ini'),
    `backend = slurm\nstorage = file:///tmp/gasp-slurm-storage\n${extra}[rat]\n7.0.8 = CVMFS\n[slurm]\npartition = debug\ntime = 00:10:00\nmem = 100M\n`,
  );
  return loadSite(join(dir, 'slurm.ini'));
}
