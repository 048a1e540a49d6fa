import type { GangaOutput, ProcessingInfoDoc, ProcessingModule } from '../model/documents.js';

/**
 * What gasp does with a processing module's `ganga_outputs`: the outputs SNO+'s GangaSNOplus client
 * handled itself (database posts). GangaSNOplus's file classes (GangaSNOplus.Lib.Files: PGSQLFile,
 * RATDBFile, RATDBAttachment, GridFile) are not public: ganga-devs/ganga's GangaSNOplus never had a
 * Lib/Files, so only what the SNO+ manual says of them is known. gasp handles none of them: it keeps
 * each in the processing information (shown by `gasp show` and `processing-info check`), and the
 * files they name stay in the job's folder where the job ran, neither posted nor staged.
 */

/** `PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", dbName = "ratdbtest", …)`, as the file wrote it. */
export function describeGangaOutput(output: GangaOutput): string {
  const args = Object.entries(output.args).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
  return `${output.call}(${args.join(', ')})`;
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** What the output would have done under GangaSNOplus, as far as the manual says. */
function whatItDoes(output: GangaOutput): string {
  const files = text(output.args.namePattern);
  const matching = files === undefined ? 'its files' : `${files} files`;
  if (output.call === 'PGSQLFile') {
    const database = text(output.args.dbName) ?? '(no dbName)';
    const server = text(output.args.dbServer);
    return `PGSQLFile posts ${matching} to the PostgreSQL database ${database}${server === undefined ? '' : ` at ${server}`}, which gasp does not do`;
  }
  return `${output.call} (${matching}) is handled by GangaSNOplus in a way gasp does not know and does not do`;
}

/**
 * One line per ganga output gasp does not handle, naming its module and saying what gasp does
 * instead: `DQCSS: ganga_outputs[0]: PGSQLFile posts CSS_RESULT_*.ratdb files to … which gasp does not do; …`.
 */
export function unhandledOutputs(doc: Pick<ProcessingInfoDoc, 'modules'>): string[] {
  return Object.entries(doc.modules).flatMap(([name, module]) =>
    (module.ganga_outputs ?? []).map(
      (output, index) =>
        `${name}: ganga_outputs[${index}]: ${whatItDoes(output)}; gasp keeps it in the processing information, and the files it names stay in the job's folder, neither posted nor staged`,
    ),
  );
}

/** One line of a module for people: type, level, path, outputs, prerequisites, nhit cut. */
export function describeProcessingModule(name: string, module: ProcessingModule): string[] {
  const outputs = module.outputs.length === 0 ? 'no outputs' : module.outputs.join(', ');
  const needs = module.prerequisites.length === 0 ? '' : `; needs ${module.prerequisites.join(', ')}`;
  const nhit = module.nhit_cut === undefined ? '' : `; nhit_cut ${module.nhit_cut}`;
  const raw = module.raw_processor ? '; reads raw data' : '';
  return [
    `${name}: ${module.type ?? 'macro'} ${module.path}, ${module.level} → ${outputs}${needs}${nhit}${raw}`,
    ...(module.ganga_outputs ?? []).map((output) => `  ganga output ${describeGangaOutput(output)}`),
  ];
}
