import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ModeOverride } from '../config/config.js';
import { InputError } from '../errors.js';
import type { EventMode } from '../model/event-mode.js';
import type { ProductionModule } from '../model/documents.js';
import { readMacro } from './macro.js';

export interface ScanOptions {
  ratDir: string;
  phases: readonly string[];
  internalRateGenerators: readonly string[];
  modeOverrides: readonly ModeOverride[];
}

export interface ScanResult {
  modules: Record<string, ProductionModule>;
  /** Macros left out and phases not found, one line each. */
  warnings: string[];
  macrosRead: number;
}

/** Subfolders scanned but left out of module names. */
const UNNAMED_FOLDERS = new Set(['calibration']);

const capitalise = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/** `teloaded/perylene/bi214.mac` → `TeloadedPeryleneBi214`; `water/calibration/n16.mac` → `WaterN16`. */
export function moduleName(pathInProduction: string): string {
  const parts = pathInProduction.replace(/\.mac$/, '').split('/');
  return parts
    .filter((part, index) => index === 0 || index === parts.length - 1 || !UNNAMED_FOLDERS.has(part))
    .map(capitalise)
    .join('');
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

function eventModeFor(name: string, rateBased: boolean, overrides: readonly ModeOverride[]): EventMode {
  const override = overrides.find((candidate) => globToRegExp(candidate.pattern).test(name));
  if (override !== undefined) return override.mode;
  return rateBased ? 'time' : 'number';
}

function macrosUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...macrosUnder(path));
    else if (entry.name.endsWith('.mac')) found.push(path);
  }
  return found;
}

/**
 * Scans `RATDIR/mac/production/<phase>/…` for every phase and reads each macro. Every problem in
 * every file is collected, then thrown together, so nothing is written from a half-good release.
 */
export function scanRelease(options: ScanOptions): ScanResult {
  const { ratDir } = options;
  if (!existsSync(ratDir) || !statSync(ratDir).isDirectory()) {
    throw new InputError([`${ratDir}: no such folder (expected a RAT release, such as $RATROOT)`]);
  }
  const productionDir = join(ratDir, 'mac', 'production');
  if (!existsSync(productionDir)) {
    throw new InputError([`${productionDir}: no such folder (expected the release's production macros there)`]);
  }
  const present = options.phases.filter((phase) => existsSync(join(productionDir, phase)));
  const missing = options.phases.filter((phase) => !present.includes(phase));
  if (present.length === 0) {
    throw new InputError([`${productionDir}: has none of the phases ${options.phases.join(', ')} (expected a folder per phase; see [production] phases)`]);
  }
  const warnings = missing.map((phase) => `${join(productionDir, phase)}: phase folder not found; scanning the others`);
  const problems: string[] = [];
  const modules: Record<string, ProductionModule> = {};
  const sources = new Map<string, string>();
  const internalRate = new Set(options.internalRateGenerators);
  let macrosRead = 0;

  for (const phase of present) {
    for (const file of macrosUnder(join(productionDir, phase))) {
      const path = relative(ratDir, file);
      // messages name the file as the user can open it; the document keeps the release-relative path
      const shown = join(ratDir, path);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        problems.push(`${shown}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}) (expected a readable macro)`);
        continue;
      }
      macrosRead += 1;
      const name = moduleName(relative(productionDir, file));
      const earlier = sources.get(name);
      if (earlier !== undefined) {
        problems.push(`${shown}: gives the module name ${name}, as ${join(ratDir, earlier)} does (expected one macro per module name)`);
        continue;
      }
      sources.set(name, path);
      const { facts, problems: macroProblems } = readMacro(text, shown, internalRate);
      problems.push(...macroProblems);
      if (facts.outputs.length === 0) {
        warnings.push(`${shown}: adds no output processor (outroot, outntuple, outsoc); left out`);
        continue;
      }
      modules[name] = {
        path,
        phase,
        event_mode: eventModeFor(name, facts.rateBased, options.modeOverrides),
        outputs: facts.outputs,
        ...(Object.keys(facts.otherSuffix).length > 0 && { other_suffix: facts.otherSuffix }),
        template: facts.template,
        sha256: facts.sha256,
      };
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  const sorted = Object.fromEntries(Object.entries(modules).sort(([a], [b]) => a.localeCompare(b)));
  return { modules: sorted, warnings, macrosRead };
}
