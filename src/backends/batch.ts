import type { Site } from '../sites/site.js';
import { runCommand, type CommandRunner } from './command.js';

/** What the batch-system backends share: the site they serve and how they run its commands. */
export abstract class BatchBackend {
  readonly runsWrapper = true;
  protected readonly site: Site;
  /** Runs a batch-system command; tests of HTCondor and DIRAC pass recorded answers instead. */
  protected readonly run: CommandRunner;

  constructor(site: Site, run: CommandRunner = runCommand) {
    this.site = site;
    this.run = run;
  }
}
