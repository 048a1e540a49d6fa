import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';

/** What the checks look at: the config, and the databases `gasp views push` would write (the config's first). */
export interface DoctorSetup {
  config: Config;
  databases: readonly Database[];
  /** How a fix names the config file: `-c site.cfg ` (with its space), or '' for the default. */
  configArgs: string;
  /** The work folder's free space below this is a problem. */
  minFreeBytes?: number;
}
