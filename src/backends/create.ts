import { join, resolve } from 'node:path';
import type { Site } from '../sites/site.js';
import type { Backend } from './backend.js';
import type { CommandRunner } from './command.js';
import { CondorBackend } from './condor.js';
import { DiracBackend } from './dirac.js';
import { DryBackend, type DryOptions } from './dry.js';
import { LocalBackend } from './local.js';
import { SlurmBackend } from './slurm.js';

export interface BackendOptions {
  /** For batch-system commands; tests of HTCondor and DIRAC pass recorded answers. */
  run?: CommandRunner;
  dry?: DryOptions;
}

/** The backend a site file names. */
export function createBackend(site: Site, options: BackendOptions = {}): Backend {
  switch (site.backend) {
    case 'local':
      return new LocalBackend({ stateDir: join(resolve(site.local.workdir), '.local-backend'), maxJobs: site.maxJobs });
    case 'slurm':
      return new SlurmBackend(site, options.run);
    case 'condor':
      return new CondorBackend(site, options.run);
    case 'dirac':
      return new DiracBackend(site, options.run);
    case 'dry':
      // its record of submissions lives with the site's job folders, so a restarted client knows its jobs
      return new DryBackend({
        outcome: site.dry.outcome,
        failCalls: site.dry.fail_calls,
        journal: join(resolve(site.local.workdir), '.dry-backend', 'journal.jsonl'),
        ...options.dry,
      });
  }
}
