import type { Command } from 'commander';
import { describeCheck, describeTotals, isProblem } from '../doctor/check.js';
import { runDoctor } from '../doctor/doctor.js';
import { configOption, loadCommandConfig, print, type ConfigOptions } from './context.js';
import { viewsPushTargets } from './views-push.js';

interface DoctorOptions extends ConfigOptions {
  json?: boolean;
}

/** How a fix names the config file the command was given: `-c FILE ` (with its space), or nothing for the default. */
export const configArgs = (options: ConfigOptions): string =>
  options.config === undefined ? '' : `-c ${options.config} `;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check everything a site needs, on one screen: database, credentials, design documents, view indexes, clock, site file, RAT set-up, macros, backend, grid proxy, storage, free disk; each ✓ or ✗ with the fix to run',
    )
    .addOption(configOption())
    .option('--json', 'print the checks as JSON: [{name, ok, detail, fix}]')
    .addHelpText(
      'after',
      '\nExit code 0 when every check is ✓, 1 on any ✗. Checks that need a database that does not answer are skipped (-), not ✓.\n\nExample:\n  gasp doctor -c site.cfg',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<DoctorOptions>();
      const { config } = loadCommandConfig(options);
      const checks = await runDoctor({
        config,
        databases: viewsPushTargets(options, true),
        configArgs: configArgs(options),
      });
      if (options.json === true) print(JSON.stringify(checks, null, 2));
      else {
        for (const check of checks) for (const line of describeCheck(check)) print(line);
        print(describeTotals(checks));
      }
      if (checks.some(isProblem)) process.exitCode = 1;
    });
}
