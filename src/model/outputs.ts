import type { OutputNaming, ProductionModule } from './documents.js';

/** File endings of each data type; a second output of a kind adds its suffix before the ending. */
const ENDINGS: Readonly<Record<string, string>> = { ratds: '.root', ntuple: '.ntuple.root', soc: '.soc.root' };

/**
 * How an output file gets its name: the macro's `/rat/procset file "${OUTPUT}…"`, or rat's command
 * line (`-o FILE` names the file of an OutROOT processor the macro leaves unnamed), or nothing can
 * name it (make-production warns, submit refuses the module).
 */
export type { OutputNaming };

/** The only data type rat's command line can name: `-o` sets OutROOT's default file (rat-pac src/cmd/rat.cc). */
export const NAMED_BY_COMMAND_LINE: ReadonlySet<string> = new Set(['ratds']);

/**
 * A processing module's other_suffix (one for every other_* output, or one each) as production's
 * per-output form; undefined when it gives none.
 */
export function otherSuffixes(
  outputs: readonly string[],
  suffix: string | Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (typeof suffix !== 'string') return suffix;
  return Object.fromEntries(outputs.filter((output) => output.startsWith('other_')).map((output) => [output, suffix]));
}

/**
 * The file name of each output of a module for a job whose names start with `base`, following the
 * macros' convention: `${OUTPUT}.root`, `${OUTPUT}.ntuple.root`, `${OUTPUT}_fit.ntuple.root`. The
 * one place these names are made: the wrapper stages them, make-production checks macros against them.
 */
export function outputFiles(
  base: string,
  production: Pick<ProductionModule, 'outputs' | 'other_suffix' | 'output_naming'>,
): Array<{ data_type: string; file: string; named_by: OutputNaming }> {
  return production.outputs.map((dataType) => {
    const kind = dataType.replace(/^other_/, '');
    const suffix = dataType.startsWith('other_') ? (production.other_suffix?.[dataType] ?? '_other') : '';
    // information made before gasp recorded the naming: the macros named every file
    return {
      data_type: dataType,
      file: `${base}${suffix}${ENDINGS[kind] ?? '.root'}`,
      named_by: production.output_naming?.[dataType] ?? 'macro',
    };
  });
}
