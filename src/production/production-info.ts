import { DEFAULT_INTERNAL_RATE_GENERATORS, DEFAULT_PHASES, type ProductionConfig } from '../config/config.js';
import { FIXTURE_RELEASE } from '../paths.js';
import { productionInfoId, type ProductionInfoDoc } from '../model/documents.js';
import { InputError } from '../errors.js';
import { checkPhaseName, checkReleaseFolder, scanRelease } from './scan.js';
import { releaseVersion, type ReleaseVersion } from './version.js';

export interface MakeProductionOptions {
  ratDir: string;
  version?: string;
  production: ProductionConfig;
  /** Phases and internal-rate generators added for this run only. */
  extraPhases?: readonly string[];
  extraInternalRate?: readonly string[];
}

export interface MadeProductionInfo {
  doc: ProductionInfoDoc;
  version: ReleaseVersion;
  warnings: string[];
  macrosRead: number;
}

/** The production-information document for a release, from its macros. Throws InputError with every problem. */
export function makeProductionInfo(options: MakeProductionOptions): MadeProductionInfo {
  checkReleaseFolder(options.ratDir);
  const badPhases = (options.extraPhases ?? []).flatMap((phase) => checkPhaseName(phase) ?? []);
  if (badPhases.length > 0) throw new InputError(badPhases.map((why) => `--phase: ${why}`));
  const version = releaseVersion(options.ratDir, options.version);
  const { modules, warnings, macrosRead } = scanRelease({
    ratDir: options.ratDir,
    phases: [...new Set([...options.production.phases, ...(options.extraPhases ?? [])])],
    internalRateGenerators: [...options.production.internalRateGenerators, ...(options.extraInternalRate ?? [])],
    modeOverrides: options.production.modeOverrides,
  });
  return {
    doc: {
      _id: productionInfoId(version.version),
      type: 'production_information',
      rat_version: version.version,
      modules,
    },
    version,
    warnings,
    macrosRead,
  };
}

/** The bundled fixture release's production information, with the default phases and generators (demo, tests, bench). */
export function fixtureProductionInfo(): MadeProductionInfo {
  return makeProductionInfo({
    ratDir: FIXTURE_RELEASE,
    production: {
      phases: [...DEFAULT_PHASES],
      internalRateGenerators: [...DEFAULT_INTERNAL_RATE_GENERATORS],
      modeOverrides: [],
    },
  });
}
