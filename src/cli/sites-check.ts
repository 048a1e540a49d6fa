import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadSites, type Site } from '../sites/site.js';
import { print } from './context.js';
import { registerSitesStatus } from './sites-status.js';

function siteSummary(site: Site) {
  return {
    name: site.name,
    file: site.file,
    backend: site.backend,
    max_jobs: site.maxJobs,
    modes: site.modes,
    rat_versions: [...site.rat.versions.values()].map((entry) => (entry.source === 'cvmfs' ? entry.version : `${entry.version} (${entry.script})`)),
  };
}

export function registerSitesCheck(program: Command): void {
  const sites = program.command('sites').description('check site files; see which sites run on a database');
  sites
    .command('check')
    .description('validate every site file in a folder; list each site, its backend and its RAT versions')
    .argument('[dir]', 'folder of site files', 'sites')
    .option('--json', 'print the sites as JSON')
    .addHelpText('after', '\nExample:\n  gasp sites check sites/')
    .action((dir: string, options: { json?: boolean }) => {
      const sites = loadSites(dir);
      // a site file may be checked away from its site, so a missing script is a warning, not an error
      for (const site of sites) {
        for (const entry of site.rat.versions.values()) {
          if (entry.source === 'script' && !existsSync(entry.script)) {
            process.stderr.write(`${site.file}: [rat] ${entry.version}: warning: env script ${entry.script} is not on this machine\n`);
          }
        }
      }
      const summaries = sites.map(siteSummary);
      if (options.json === true) {
        print(JSON.stringify(summaries, null, 2));
        return;
      }
      const width = Math.max(...summaries.map((site) => site.name.length), 4);
      print(`${'site'.padEnd(width)}  backend  max_jobs  modes                   RAT versions`);
      for (const site of summaries) {
        print(
          `${site.name.padEnd(width)}  ${site.backend.padEnd(7)}  ${String(site.max_jobs).padStart(8)}  ${site.modes.join(', ').padEnd(22)}  ${site.rat_versions.join(', ')}`,
        );
      }
    });
  registerSitesStatus(sites);
}
