import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ModeOverride } from '../config/config.js';
import { InputError } from '../errors.js';
import type { EventMode } from '../model/event-mode.js';
import type { ProductionModule } from '../model/documents.js';
import { outputNaming, readMacro } from './macro.js';
import { globToRegExp } from '../glob.js';

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

/** What a module name may hold: it becomes part of job names, folders and batch-system files. */
export const MODULE_NAME = /^[A-Za-z0-9][\w.+-]*$/;

/** `teloaded/perylene/bi214.mac` → `TeloadedPeryleneBi214`; `water/calibration/n16.mac` → `WaterN16`. */
export function moduleName(pathInProduction: string): string {
  const parts = pathInProduction.replace(/\.mac$/, '').split('/');
  return parts
    .filter((part, index) => index === 0 || index === parts.length - 1 || !UNNAMED_FOLDERS.has(part))
    .map(capitalise)
    .join('');
}

function eventModeFor(
  name: string,
  rateBased: boolean,
  overrides: readonly ModeOverride[],
  used: Set<ModeOverride>,
): EventMode {
  const override = overrides.find((candidate) => globToRegExp(candidate.pattern).test(name));
  if (override !== undefined) {
    used.add(override);
    return override.mode;
  }
  return rateBased ? 'time' : 'number';
}

const isFolder = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Every `.mac` below `dir`, in name order, following symbolic links (CVMFS releases use them) but
 * never into a folder already seen; dot-files (editor locks) are skipped. Unreadable folders are problems.
 */
function macrosUnder(dir: string, problems: string[], seen = new Set<string>()): string[] {
  let real: string;
  let names: string[];
  try {
    real = realpathSync(dir);
    if (seen.has(real)) return [];
    seen.add(real);
    names = readdirSync(dir).sort((a, b) => a.localeCompare(b));
  } catch (error) {
    problems.push(
      `${dir}: cannot be listed (${(error as NodeJS.ErrnoException).code ?? 'error'}) (expected a readable folder of macros)`,
    );
    return [];
  }
  const found: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (isFolder(path)) found.push(...macrosUnder(path, problems, seen));
    else if (name.endsWith('.mac')) found.push(path);
  }
  return found;
}

/** Checks the release folder before anything else reads it. */
export function checkReleaseFolder(ratDir: string): void {
  if (ratDir.trim() === '')
    throw new InputError(['RATDIR: is empty (expected a RAT release folder, such as $RATROOT)']);
  if (!isFolder(ratDir)) throw new InputError([`${ratDir}: no such folder (expected a RAT release, such as $RATROOT)`]);
}

/** A phase is one plain folder name under mac/production. */
export function checkPhaseName(phase: string): string | undefined {
  return /^[\w-][\w.-]*$/.test(phase) && phase !== '..'
    ? undefined
    : `"${phase}" is not a phase folder name (expected one folder name such as water)`;
}

/** One scan: what it was given, and what it has found so far. */
interface Scan {
  options: ScanOptions;
  productionDir: string;
  internalRate: ReadonlySet<string>;
  modules: Record<string, ProductionModule>;
  /** The release-relative path of the macro that gave each module name. */
  sources: Map<string, string>;
  usedPatterns: Set<ModeOverride>;
  problems: string[];
  warnings: string[];
  macrosRead: number;
}

/**
 * Scans `RATDIR/mac/production/<phase>/…` for every phase and reads each macro. Every problem in
 * every file is collected, then thrown together, so nothing is written from a half-good release.
 */
export function scanRelease(options: ScanOptions): ScanResult {
  const { productionDir, present, warnings } = productionPhases(options);
  const scan: Scan = {
    options,
    productionDir,
    internalRate: new Set(options.internalRateGenerators),
    modules: {},
    sources: new Map(),
    usedPatterns: new Set(),
    problems: [],
    warnings,
    macrosRead: 0,
  };
  for (const phase of present) {
    for (const file of macrosUnder(join(productionDir, phase), scan.problems)) readModule(scan, phase, file);
  }
  if (scan.problems.length > 0) throw new InputError(scan.problems);
  for (const override of options.modeOverrides) {
    if (!scan.usedPatterns.has(override))
      warnings.push(
        `[production.modes] ${override.pattern}: matches no module (module names are case-sensitive, such as TeloadedTl208)`,
      );
  }
  const sorted = Object.fromEntries(Object.entries(scan.modules).sort(([a], [b]) => a.localeCompare(b)));
  return { modules: sorted, warnings, macrosRead: scan.macrosRead };
}

/** Checks the release, its production folder and the phase names; the phases found, and a warning per one missing. */
function productionPhases(options: ScanOptions): { productionDir: string; present: string[]; warnings: string[] } {
  const { ratDir } = options;
  checkReleaseFolder(ratDir);
  const badPhases = options.phases.flatMap((phase) => checkPhaseName(phase) ?? []);
  if (badPhases.length > 0) throw new InputError(badPhases.map((why) => `phases: ${why}`));
  const productionDir = join(ratDir, 'mac', 'production');
  if (!isFolder(productionDir)) {
    throw new InputError([`${productionDir}: no such folder (expected the release's production macros there)`]);
  }
  const present = options.phases.filter((phase) => isFolder(join(productionDir, phase)));
  const missing = options.phases.filter((phase) => !present.includes(phase));
  if (present.length === 0) {
    throw new InputError([
      `${productionDir}: has none of the phases ${options.phases.join(', ')} (expected a folder per phase; see [production] phases)`,
    ]);
  }
  const warnings = missing.map((phase) => `${join(productionDir, phase)}: phase folder not found; scanning the others`);
  return { productionDir, present, warnings };
}

/** Reads one macro into a module of the scan, or into its problems or warnings. */
function readModule(scan: Scan, phase: string, file: string): void {
  const { ratDir } = scan.options;
  const path = relative(ratDir, file);
  // messages name the file as the user can open it; the document keeps the release-relative path
  const shown = join(ratDir, path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    scan.problems.push(
      `${shown}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}) (expected a readable macro)`,
    );
    return;
  }
  scan.macrosRead += 1;
  const name = moduleName(relative(scan.productionDir, file));
  const refusal = nameRefusal(scan, name, shown);
  if (refusal !== undefined) {
    scan.problems.push(refusal);
    return;
  }
  scan.sources.set(name, path);
  const { facts, problems } = readMacro(bytes, shown, scan.internalRate);
  scan.problems.push(...problems);
  if (facts.outputs.length === 0) {
    scan.warnings.push(`${shown}: adds no output processor (outroot, outntuple, outsoc); left out`);
    return;
  }
  const { naming, reasons } = outputNaming(facts);
  // kept in the document, so submit can say why it refuses the module rather than "no module"
  if (reasons.length > 0)
    scan.warnings.push(
      `${shown}: module ${name}: its outputs cannot be named, so every job would fail and submit refuses it: ${reasons.join('; ')}`,
    );
  scan.modules[name] = {
    path,
    phase,
    event_mode: eventModeFor(name, facts.rateBased, scan.options.modeOverrides, scan.usedPatterns),
    outputs: facts.outputs,
    ...(Object.keys(facts.otherSuffix).length > 0 && { other_suffix: facts.otherSuffix }),
    output_naming: naming,
    ...(reasons.length > 0 && { unnameable: reasons.join('; ') }),
    template: facts.template,
    sha256: facts.sha256,
  };
}

/** Why a macro's module name cannot be used (a character, or another macro gave it already), if it cannot. */
function nameRefusal(scan: Scan, name: string, shown: string): string | undefined {
  // module names go into job names, folders and batch-system files: nothing a shell or a submit file reads specially
  if (!MODULE_NAME.test(name))
    return `${shown}: gives the module name ${JSON.stringify(name)} (expected a file name of letters, digits, _ . + - only)`;
  const earlier = scan.sources.get(name);
  if (earlier !== undefined)
    return `${shown}: gives the module name ${name}, as ${join(scan.options.ratDir, earlier)} does (expected one macro per module name)`;
  return undefined;
}
