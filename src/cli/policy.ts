import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { DEFAULT_PAUSE_AFTER, policyId, type PolicyDoc } from '../model/policy.js';
import { whoAmI, writeAudit } from '../shifter/tool.js';
import { checkLabel } from '../submit/request.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface PolicyOptions extends ConfigOptions {
  label: string;
  pauseAfter?: string;
  pause?: boolean;
}

const describe = (policy: PolicyDoc | undefined, label: string) => {
  const after = policy?.pause_after ?? DEFAULT_PAUSE_AFTER;
  const lines = [`label ${label}: pauses when more than ${after.failed} of its last ${after.of} ended passes failed${policy?.pause_after === undefined ? ' (the default)' : ''}`];
  lines.push(policy?.paused === undefined ? '  not paused' : `  PAUSED since ${policy.paused.since} by ${policy.paused.by}: ${policy.paused.reason}; gasp resume --label ${label}`);
  return lines;
};

export function registerPolicy(program: Command): void {
  program
    .command('policy')
    .description("show or set a label's failure policy: when the client pauses it because too many of its passes fail")
    .requiredOption('--label <label>', 'the label')
    .option('--pause-after <n/m>', 'pause when more than n of the last m ended passes failed (default 10/20)')
    .option('--pause', 'pause the label now: no site claims its passes until gasp resume')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExamples:\n  gasp policy --label mc-2026-bi214\n  gasp policy --label mc-2026-bi214 --pause-after 5/10')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<PolicyOptions>();
      const problems: string[] = [];
      checkLabel('--label', options.label, problems);
      const match = options.pauseAfter === undefined ? undefined : /^(\d+)\/(\d+)$/.exec(options.pauseAfter);
      const [failed, of] = [Number(match?.[1]), Number(match?.[2])];
      if (options.pauseAfter !== undefined && (match === null || match === undefined || of < 1 || failed >= of)) problems.push(`--pause-after: "${options.pauseAfter}" is not n/m with n less than m (expected such as 10/20)`);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      let policy = await db.find<PolicyDoc>(policyId(options.label));
      if (options.pauseAfter !== undefined || options.pause === true) {
        const next: PolicyDoc = {
          ...(policy ?? { _id: policyId(options.label), type: 'policy', label: options.label }),
          ...(options.pauseAfter !== undefined && { pause_after: { failed, of } }),
          ...(options.pause === true && policy?.paused === undefined && { paused: { since: new Date().toISOString(), reason: 'paused by hand', by: whoAmI() } }),
        };
        next._rev = (await db.put(next)).rev;
        policy = next;
        await writeAudit(db, 'policy', { label: options.label, ...(options.pauseAfter !== undefined && { pauseAfter: options.pauseAfter }), ...(options.pause === true && { pause: true }) }, 1, 1);
      }
      for (const line of describe(policy, options.label)) print(line);
    });
  program
    .command('resume')
    .description('resume a paused label: sites claim its passes again')
    .requiredOption('--label <label>', 'the label')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExample:\n  gasp resume --label mc-2026-bi214')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { label: string }>();
      const problems: string[] = [];
      checkLabel('--label', options.label, problems);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const policy = await db.find<PolicyDoc>(policyId(options.label));
      if (policy?.paused === undefined) {
        print(`label ${options.label} is not paused`);
        return;
      }
      const { paused: _paused, ...rest } = policy;
      await db.put(rest);
      await writeAudit(db, 'resume', { label: options.label }, 1, 1);
      print(`label ${options.label} resumed (it was paused since ${policy.paused.since}: ${policy.paused.reason})`);
    });
}
