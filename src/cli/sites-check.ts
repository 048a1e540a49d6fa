import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { checkRatVersions, describeRatProblems, type RatCheck } from '../sites/check.js';
import { loadSites, type Site } from '../sites/site.js';
import { print } from './context.js';
import { registerSitesStatus } from './sites-status.js';

function siteSummary(site: Site, checks: readonly RatCheck[]) {
  return {
    name: site.name,
    file: site.file,
    backend: site.backend,
    max_jobs: site.maxJobs,
    modes: site.modes,
    rat_versions: [...site.rat.versions.values()].map((entry) =>
      entry.source === 'cvmfs' ? entry.version : `${entry.version} (${entry.script})`,
    ),
    rat_checks: checks,
  };
}

/** One line per version: what its set-up gave here, or why it was not checked. */
function describeCheck(site: Site, check: RatCheck): string | undefined {
  if (check.outcome === 'ok')
    return `${site.name} [rat] ${check.version}: ok (RATROOT ${check.ratroot}, rat ${check.rat})`;
  if (check.outcome === 'not checked') return `${site.name} [rat] ${check.version}: ${check.why}`;
  return undefined;
}

export function registerSitesCheck(program: Command): void {
  const sites = program.command('sites').description('check site files; see which sites run on a database');
  sites
    .command('check')
    .description(
      "validate every site file in a folder; list each site, its backend and its RAT versions, and check each version's set-up on this machine",
    )
    .argument('[dir]', 'folder of site files', 'sites')
    .option('--json', 'print the sites as JSON')
    .addHelpText(
      'after',
      '\nEach env script in [rat] must exist; where it does (and for CVMFS versions where the CVMFS root is mounted) it is sourced as the job wrapper sources it, and must export RATROOT and put rat on PATH. A problem is one line naming the site file and [rat] <version>, exit code 2.\n\nExample:\n  gasp sites check sites/',
    )
    .action(async (dir: string, options: { json?: boolean }) => {
      const sites = loadSites(dir);
      const checked = await Promise.all(sites.map(async (site) => ({ site, checks: await checkRatVersions(site) })));
      const summaries = checked.map(({ site, checks }) => siteSummary(site, checks));
      if (options.json === true) {
        print(JSON.stringify(summaries, null, 2));
      } else {
        const width = Math.max(...summaries.map((site) => site.name.length), 4);
        print(`${'site'.padEnd(width)}  backend  max_jobs  modes                   RAT versions`);
        for (const site of summaries) {
          print(
            `${site.name.padEnd(width)}  ${site.backend.padEnd(7)}  ${String(site.max_jobs).padStart(8)}  ${site.modes.join(', ').padEnd(22)}  ${site.rat_versions.join(', ')}`,
          );
        }
        const lines = checked.flatMap(({ site, checks }) =>
          checks.flatMap((check) => describeCheck(site, check) ?? []),
        );
        if (lines.length > 0) print(`RAT set-up on this machine:\n${lines.map((line) => `  ${line}`).join('\n')}`);
      }
      const problems = checked.flatMap(({ site, checks }) => describeRatProblems(site, checks));
      if (problems.length > 0) throw new InputError(problems);
    });
  registerSitesStatus(sites);
}
