import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Database } from '../db/database.js';
import { sha256OfFile } from '../files.js';
import { productionInfoId, type ProductionInfoDoc } from '../model/documents.js';
import { checkRatVersions, type RatCheck } from '../sites/check.js';
import { loadSite, type Site } from '../sites/site.js';
import { plural } from '../words.js';
import { failed, oneLine, passed, skipped, type Check } from './check.js';
import type { DoctorSetup } from './setup.js';

/** The config's site file: valid, and running the config's mode. */
export function checkSiteFile(setup: DoctorSetup): { checks: Check[]; site?: Site } {
  const { siteFile, mode } = setup.config.client;
  let site: Site;
  try {
    site = loadSite(siteFile);
  } catch (error) {
    return {
      checks: [
        failed(
          'site file',
          oneLine(error),
          `correct ${siteFile} (gasp sites check ${dirname(siteFile)} lists every problem)`,
        ),
      ],
    };
  }
  if (!site.modes.includes(mode))
    return {
      checks: [
        failed(
          'site file',
          `${site.file}: site ${site.name} does not run ${mode}`,
          `add ${mode} to modes in ${site.file}`,
        ),
      ],
      site,
    };
  return { checks: [passed('site file', `${site.file}: site ${site.name}, backend ${site.backend}`)], site };
}

/** Each RAT version's set-up, run here as the job wrapper runs it (sites/check.ts, as `gasp sites check`). */
export async function checkRatSetups(site: Site): Promise<{ checks: Check[]; ratroots: Map<string, string> }> {
  const ratroots = new Map<string, string>();
  const checks = (await checkRatVersions(site)).map((check: RatCheck): Check => {
    const name = `RAT ${check.version}`;
    if (check.outcome === 'ok') {
      ratroots.set(check.version, check.ratroot);
      return passed(name, `RATROOT ${check.ratroot}, rat ${check.rat}`);
    }
    if (check.outcome === 'not checked') return skipped(name, check.why);
    return failed(
      name,
      check.problem,
      `make the set-up of ${check.version} in ${site.file} export RATROOT and put rat on PATH; gasp sites check ${dirname(site.file)} checks it`,
    );
  });
  return { checks, ratroots };
}

const MAX_NAMED = 3;

const listed = (items: readonly string[]) =>
  items.length <= MAX_NAMED
    ? items.join(', ')
    : `${items.slice(0, MAX_NAMED).join(', ')} and ${items.length - MAX_NAMED} more`;

/** The macros of the production information stored for a RAT version: there under RATROOT, with the bytes it was made from. */
export async function checkMacros(
  setup: DoctorSetup,
  db: Database,
  version: string,
  ratroot: string,
): Promise<Check[]> {
  const name = `macros ${version}`;
  const remake = `gasp make-production ${ratroot} ${setup.configArgs}--upload`;
  const info = await db.find<ProductionInfoDoc>(productionInfoId(version));
  if (info === undefined) {
    if (setup.config.client.mode !== 'production')
      return [skipped(name, `no production information for RAT ${version} in ${db.name}`)];
    return [failed(name, `no production information for RAT ${version} in ${db.name}`, remake)];
  }
  const modules = Object.values(info.modules);
  const missing: string[] = [];
  const changed: string[] = [];
  for (const module of modules) {
    const file = join(ratroot, module.path);
    if (!existsSync(file)) missing.push(module.path);
    else if ((await sha256OfFile(file)) !== module.sha256) changed.push(module.path);
  }
  if (missing.length === 0 && changed.length === 0)
    return [passed(name, `${plural(modules.length, 'macro')} under ${ratroot} match the production information`)];
  const detail = [
    ...(missing.length > 0 ? [`missing under ${ratroot}: ${listed(missing)}`] : []),
    ...(changed.length > 0 ? [`sha256 differs from the production information: ${listed(changed)}`] : []),
  ].join('; ');
  return [
    failed(
      name,
      `${missing.length + changed.length} of ${plural(modules.length, 'macro')}: ${detail}`,
      `set up the release the information was made from, or make it again from this one: ${remake}`,
    ),
  ];
}
