import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { DEFAULT_MAX_ATTEMPTS } from '../model/policy.js';
import { policyFields, type PolicySettings } from '../config/policy-settings.js';
import { describePolicy, resumeLabel, resumeSite, setPolicy } from '../shifter/policy.js';
import { checkLabel } from '../submit/request.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface PolicyOptions extends ConfigOptions {
  label: string;
  pauseAfter?: string;
  maxAttempts?: string;
  retryMemory?: string;
  retryOn?: string[];
  pause?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerPolicy(program: Command): void {
  program
    .command('policy')
    .description(
      "show or set a label's failure policy: automatic resubmission of transient errors, more memory per retry, and when the client pauses the label",
    )
    .requiredOption('--label <label>', 'the label')
    .option('--pause-after <n/m>', 'pause when more than n of the last m ended passes failed (default 10/20)')
    .option(
      '--max-attempts <n>',
      `attempts a pass makes before automatic resubmission stops (default ${DEFAULT_MAX_ATTEMPTS}; gasp retry is not limited)`,
    )
    .option(
      '--retry-memory <size>',
      "memory a batch job asks for beyond the site's, per failed attempt before it, such as 2G (Slurm, HTCondor)",
    )
    .option(
      '--retry-on <text>',
      'a failed pass whose log contains this text is resubmitted (repeat for more; replaces the list; "" clears it)',
      collect,
    )
    .option('--pause', 'pause the label now: no site claims its passes until gasp resume')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      '\nThe same settings go in a jobs.json request as "policy": {"max_attempts": 3, "retry_memory": "2G", "retry_on": ["Connection timed out"], "pause_after": "10/20"}.\n\nExamples:\n  gasp policy --label mc-2026-bi214\n  gasp policy --label mc-2026-bi214 --pause-after 5/10\n  gasp policy --label mc-2026-bi214 --retry-on "Connection timed out" --retry-on "Stale file handle" --max-attempts 4',
    )
    .action(async (_options: unknown, command: Command) => runPolicy(command.optsWithGlobals<PolicyOptions>()));
  registerResume(program);
}

async function runPolicy(options: PolicyOptions): Promise<void> {
  const problems: string[] = [];
  checkLabel('--label', options.label, problems);
  const settings: PolicySettings = {
    ...(options.pauseAfter !== undefined && { pause_after: options.pauseAfter }),
    ...(options.maxAttempts !== undefined && { max_attempts: options.maxAttempts }),
    ...(options.retryMemory !== undefined && { retry_memory: options.retryMemory }),
    ...(options.retryOn !== undefined && { retry_on: options.retryOn.filter((text) => text !== '') }),
  };
  const flag = (key: string) => `--${key.replaceAll('_', '-')}`;
  const fields = policyFields(settings, flag, problems);
  if (problems.length > 0) throw new InputError(problems);
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  const policy = await setPolicy(db, options.label, settings, fields, options.pause === true);
  for (const line of describePolicy(policy, options.label)) print(line);
}

function registerResume(program: Command): void {
  program
    .command('resume')
    .description('resume a paused label (sites claim its passes again) or a quarantined site (it claims again)')
    .option('--label <label>', 'the paused label')
    .option('--site <site>', 'the quarantined site')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExamples:\n  gasp resume --label mc-2026-bi214\n  gasp resume --site ral')
    .action(async (_options: unknown, command: Command) =>
      runResume(command.optsWithGlobals<ConfigOptions & { label?: string; site?: string }>()),
    );
}

async function runResume(options: ConfigOptions & { label?: string; site?: string }): Promise<void> {
  const problems: string[] = [];
  if ((options.label === undefined) === (options.site === undefined))
    problems.push('resume: give --label or --site (one of them)');
  checkLabel('--label', options.label, problems);
  if (options.site !== undefined && !/^[\w.-]+$/.test(options.site))
    problems.push(`--site: "${options.site}" is not a site name (expected letters, digits, _ . -)`);
  if (problems.length > 0) throw new InputError(problems);
  const { config, log } = loadCommandConfig(options);
  const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
  if (options.site !== undefined) {
    const quarantine = await resumeSite(db, options.site);
    print(
      quarantine === undefined
        ? `site ${options.site} is not quarantined`
        : `site ${options.site} resumed: it claims again at its next cycle (it was quarantined since ${quarantine.since}: ${quarantine.reason})`,
    );
    return;
  }
  const label = options.label ?? '';
  const paused = await resumeLabel(db, label);
  print(
    paused === undefined
      ? `label ${label} is not paused`
      : `label ${label} resumed (it was paused since ${paused.since}: ${paused.reason})`,
  );
}
