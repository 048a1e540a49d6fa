import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_PAUSE_AFTER, policyId, type PolicyDoc } from '../model/policy.js';
import { policyFields, type PolicySettings } from '../config/policy-settings.js';
import { isQuarantined, quarantineId, type QuarantineDoc } from '../model/health.js';
import { writePolicies } from '../submit/submit.js';
import { whoAmI, writeAudit } from '../shifter/tool.js';
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

const describe = (policy: PolicyDoc | undefined, label: string) => {
  const after = policy?.pause_after ?? DEFAULT_PAUSE_AFTER;
  const fallback = (given: unknown) => (given === undefined ? ' (the default)' : '');
  const lines = [
    `label ${label}: pauses when more than ${after.failed} of its last ${after.of} ended passes failed${fallback(policy?.pause_after)}`,
  ];
  const keywords = policy?.retry_on ?? [];
  lines.push(
    keywords.length === 0
      ? '  failed passes stay failed (no retry_on texts set)'
      : `  a failed pass whose log contains ${keywords.map((keyword) => JSON.stringify(keyword)).join(' or ')} is resubmitted, up to ${policy?.max_attempts ?? DEFAULT_MAX_ATTEMPTS} attempts${fallback(policy?.max_attempts)}`,
  );
  if ((policy?.retry_memory_mb ?? 0) > 0)
    lines.push(`  each retry after a failure asks for ${policy?.retry_memory_mb} MB more memory (Slurm, HTCondor)`);
  lines.push(
    policy?.paused === undefined
      ? '  not paused'
      : `  PAUSED since ${policy.paused.since} by ${policy.paused.by}: ${policy.paused.reason}; gasp resume --label ${label}`,
  );
  return lines;
};

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
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<PolicyOptions>();
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
      const pause =
        options.pause === true
          ? { paused: { since: new Date().toISOString(), reason: 'paused by hand', by: whoAmI() } }
          : {};
      let policy = await db.find<PolicyDoc>(policyId(options.label));
      if (Object.keys(fields).length > 0 || (options.pause === true && policy?.paused === undefined)) {
        [policy] = await writePolicies(db, new Set([options.label]), { ...fields, ...pause });
        const given = Object.fromEntries(
          Object.entries(settings).map(([key, value]) => [
            key,
            Array.isArray(value) ? value.join(' | ') : String(value),
          ]),
        );
        const did = [
          ...(Object.keys(fields).length > 0 ? ['policy set'] : []),
          ...(options.pause === true ? ['label paused'] : []),
        ].join(', ');
        await writeAudit(
          db,
          'policy',
          { label: options.label, ...given, ...(options.pause === true && { pause: true }) },
          { did },
        );
      }
      for (const line of describe(policy, options.label)) print(line);
    });
  program
    .command('resume')
    .description('resume a paused label (sites claim its passes again) or a quarantined site (it claims again)')
    .option('--label <label>', 'the paused label')
    .option('--site <site>', 'the quarantined site')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExamples:\n  gasp resume --label mc-2026-bi214\n  gasp resume --site ral')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { label?: string; site?: string }>();
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
        const quarantine = await db.find<QuarantineDoc>(quarantineId(options.site));
        if (!isQuarantined(quarantine)) {
          print(`site ${options.site} is not quarantined`);
          return;
        }
        // kept, marked resumed: the site's health counts only what ends from now on
        await db.put({ ...quarantine, resumed: { at: new Date().toISOString(), by: whoAmI() } });
        await writeAudit(
          db,
          'resume',
          { site: options.site },
          { did: `site resumed; it was quarantined since ${quarantine.since}: ${quarantine.reason}` },
        );
        print(
          `site ${options.site} resumed: it claims again at its next cycle (it was quarantined since ${quarantine.since}: ${quarantine.reason})`,
        );
        return;
      }
      const label = options.label ?? '';
      const policy = await db.find<PolicyDoc>(policyId(label));
      if (policy?.paused === undefined) {
        print(`label ${label} is not paused`);
        return;
      }
      const { paused: _paused, ...rest } = policy;
      await db.put(rest);
      await writeAudit(
        db,
        'resume',
        { label },
        { did: `label resumed; it was paused since ${policy.paused.since}: ${policy.paused.reason}` },
      );
      print(`label ${label} resumed (it was paused since ${policy.paused.since}: ${policy.paused.reason})`);
    });
}
