import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import type { PassStatus } from '../model/status.js';
import { readSelection, selectionOptions, selectPasses, type SelectionOptions } from '../shifter/selection.js';
import { PREVIEW_ROWS, writeAudit } from '../shifter/tool.js';
import { problemCount, verifyPasses, type Problem, type VerifyContext, type VerifyReport } from '../shifter/verify.js';
import { repair, type Repaired } from '../shifter/verify-repair.js';
import { loadSite } from '../sites/site.js';
import { plural } from '../words.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { wholeNumber } from './numbers.js';
import { progressBar } from './progress.js';

const DEFAULTS: readonly PassStatus[] = ['completed', 'partFail'];

interface VerifyOptions extends ConfigOptions, SelectionOptions {
  yes?: boolean;
  json?: boolean;
  show: string;
}

/** The site of the config, when its site file is here: its storage and job folders are looked at too. */
function siteHere(config: Config): VerifyContext['site'] {
  if (!existsSync(config.client.siteFile)) return undefined;
  const site = loadSite(config.client.siteFile);
  return { storage: site.storage, se: site.se, workRoot: resolve(site.local.workdir) };
}

/** A kind of problem: its count, what --yes does with it, then its first rows. */
function section(title: string, problems: readonly Problem[], show: number, note = ''): string[] {
  if (problems.length === 0) return [];
  const lines = [`  ${title}: ${problems.length}${note}`];
  for (const problem of problems.slice(0, show)) lines.push(`    ${problem.url}: ${problem.detail}`);
  if (problems.length > show) lines.push(`    … and ${problems.length - show} more`);
  return lines;
}

/** The report as a shifter reads it: counts per kind, the first rows of each, what --yes does or did. */
export function describeVerify(report: VerifyReport, show: number, repaired?: Repaired): string[] {
  if (report.passes === 0) return ['verify: no pass matches'];
  const registrable = report.unregistered.filter((found) => found.register !== undefined).length;
  const lines = [
    `verify: ${plural(report.passes, 'pass', 'passes')}, ${plural(report.documents, 'data document')}, ${plural(report.copies, 'replica')} looked for: ${report.ok} as recorded`,
    ...section('missing', report.missing, show, ' (--yes marks them missing)'),
    ...section('size or checksum mismatch', report.mismatched, show, ' (reported, never repaired)'),
    ...section(
      'unregistered',
      report.unregistered,
      show,
      registrable === 0
        ? ''
        : ` (${registrable} ${registrable === 1 ? 'matches its' : 'match their'} manifest: --yes registers ${registrable === 1 ? 'it' : 'them'})`,
    ),
    ...section('cannot be checked', report.unchecked, show),
    ...report.unreachable.map((se) => `  unreachable: ${se.reason}; ${plural(se.copies, 'replica')} there not checked`),
  ];
  if (report.markedBefore > 0)
    lines.push(`  ${plural(report.markedBefore, 'replica')} marked missing before, not looked for again`);
  const left = problemCount(report) - (repaired === undefined ? 0 : repaired.marked + repaired.registered);
  if (repaired !== undefined) {
    const meanwhile =
      repaired.changedMeanwhile === 0
        ? ''
        : `; ${repaired.changedMeanwhile} not written (their documents changed meanwhile: verify again)`;
    lines.push(
      `verify: marked ${plural(repaired.marked, 'replica')} missing, registered ${plural(repaired.registered, 'file')}${meanwhile}; recorded in the audit`,
    );
  } else if (report.missing.length + registrable > 0)
    lines.push(
      `nothing changed: add --yes to mark ${plural(report.missing.length, 'replica')} missing and register ${plural(registrable, 'file')}`,
    );
  lines.push(
    left === 0
      ? 'verify: storage and documents agree'
      : `verify: ${plural(left, 'problem')} ${repaired === undefined ? 'found' : 'left'}`,
  );
  return lines;
}

/** `gasp verify (selection)`: the data documents of the selected passes against storage. */
export function registerVerify(program: Command): void {
  selectionOptions(
    program
      .command('verify')
      .description(
        'check the data documents of the selected passes against storage: missing replicas, size or adler32 mismatches, files no document names; --yes repairs what it can',
      ),
    DEFAULTS,
  )
    .option(
      '--yes',
      'mark missing replicas and register found files that match their manifest (without it: only the report)',
    )
    .option('--show <n>', 'problems shown of each kind', String(PREVIEW_ROWS))
    .option('--json', 'print the report (and what --yes did) as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      `
Each recorded replica is looked for: root:// on its SE (sizes from one listing per pass folder,
adler32 as the SE computes it), file:// by reading it; copy-command URLs cannot be checked. Files
in a pass's folder (<storage>/<label>/<module>/<run>/<pass>/, where its replicas are and, with the
config's site file, on the site's storage) that no document names are unregistered.

--yes marks a missing replica (missing: <time>), registers an unregistered file whose size and
adler32 match what its pass's manifest recorded (manifest.json in the site's job folders), and
reports the rest; it is recorded in the audit. Mismatches are never repaired.

Exit status: 0 storage and documents agree (with --yes: once repaired); 1 problems found (with
--yes: problems left); 2 bad input.

Example:
  gasp verify --label mc-2026-bi214 -c config/production.cfg --yes`,
    )
    .action(async (_options: unknown, cmd: Command) => {
      const options = cmd.optsWithGlobals<VerifyOptions>();
      const problems: string[] = [];
      const selection = readSelection(options, DEFAULTS, problems);
      const show = wholeNumber('--show', options.show, problems);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const site = siteHere(config);
      const bar = progressBar('verify');
      const report = await verifyPasses(
        { db, ...(site && { site }), onProgress: (done, total) => bar.update(done, total) },
        await selectPasses(db, selection),
      ).finally(() => bar.stop());
      let repaired: Repaired | undefined;
      if (options.yes === true && report.passes > 0) {
        const found = report.unregistered.flatMap((entry) => entry.register ?? []);
        repaired = await repair(db, report.missing, found, new Date());
        const {
          yes: _yes,
          json: _json,
          show: _show,
          config: _config,
          mode: _mode,
          logLevel: _level,
          ...given
        } = options;
        const left = problemCount(report) - repaired.marked - repaired.registered;
        await writeAudit(db, 'verify', given, {
          did: `marked ${plural(repaired.marked, 'replica')} missing, registered ${plural(repaired.registered, 'file')}; ${plural(left, 'problem')} left`,
        });
      }
      if (options.json === true) print(JSON.stringify({ ...report, ...(repaired && { repaired }) }, null, 2));
      else for (const line of describeVerify(report, show, repaired)) print(line);
      const left = problemCount(report) - (repaired === undefined ? 0 : repaired.marked + repaired.registered);
      if (left > 0) process.exitCode = 1;
    });
}
