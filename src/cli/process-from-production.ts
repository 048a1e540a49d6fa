import { couchFromConfig } from '../db/couch.js';
import { readProcessingInfo } from '../production/info-store.js';
import { processFromProduction, type FromProductionResult } from '../processing/from-production.js';
import { loadCommandConfig, print, type ConfigOptions } from './context.js';

export interface FromProductionCommandOptions extends ConfigOptions {
  fromProduction: string;
  module?: string;
  rat: string;
  label?: string;
  priority: string;
  dryRun?: boolean;
}

function printResult(result: FromProductionResult, dryRun: boolean): void {
  for (const job of result.jobs) {
    const { from } = job;
    print(
      `${job.module} run ${job.run} pass ${job.pass}${job.created ? '' : ' (there already)'}: ${job.inputs} files of ${from.module} run ${from.run} pass ${from.pass}`,
    );
  }
  const created = result.jobs.filter((job) => job.created).length;
  print(
    `${dryRun ? 'dry run: would create' : 'created'} ${created} passes; ${result.jobs.length - created} were there already`,
  );
}

/**
 * `gasp process --from-production LABEL --module M --rat V`: processing passes, in the production
 * database, over the output of LABEL's completed passes (options checked by the caller).
 */
export async function runFromProduction(options: FromProductionCommandOptions): Promise<void> {
  const { config, log } = loadCommandConfig({ mode: 'production', ...options });
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const info = await readProcessingInfo(db, options.rat, 'gasp processing-info upload FILE --mode production');
  const result = await processFromProduction(db, info, {
    source: options.fromProduction,
    module: options.module ?? '',
    label: options.label ?? `${options.fromProduction}-${options.module ?? ''}`,
    priority: Number(options.priority),
    ...(options.dryRun === true && { dryRun: true }),
  });
  for (const line of result.skipped) log.warn(line);
  printResult(result, options.dryRun === true);
}
