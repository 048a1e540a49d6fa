import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { InputError } from '../errors.js';
import {
  jobId,
  processingInfoId,
  productionInfoId,
  type ProcessingInfoDoc,
  type ProcessingModule,
  type DataDoc,
  type DataFile,
  type JobDoc,
  type Pass,
  type ProductionInfoDoc,
} from '../model/documents.js';
import { describeGangaOutput } from '../production/ganga-outputs.js';
import { dataDocsOf } from '../shifter/data-docs.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';
import { labelText } from '../model/label.js';

/** What a pass ran and made: enough to say exactly how its data came to be, and to run it again. */
export interface PassRecord {
  module: string;
  run: number;
  pass: Pass;
  /** The macro's path in the release, from the production (or processing) information of the pass's RAT version. */
  macro_path: string | null;
  /** A processing pass: its module as the processing information has it (type, nhit cut, ganga outputs); null if it lacks the module. */
  processing?: Pick<ProcessingModule, 'type' | 'nhit_cut' | 'ganga_outputs'> | null;
  data: DataDoc[];
}

/** What a processing pass's module is beyond its macro: a script, an nhit cut, outputs gasp keeps but does not handle. */
function describeProcessing(record: PassRecord): string[] {
  if (record.processing === undefined) return [];
  if (record.processing === null) return ['  processing module: (not in the processing information)'];
  const { type, nhit_cut: nhitCut, ganga_outputs: outputs = [] } = record.processing;
  return [
    `  processing module: ${type ?? 'macro'}; nhit_cut ${nhitCut ?? '-'}; ganga outputs ${outputs.length === 0 ? 'none' : `(kept, not handled by gasp):`}`,
    ...outputs.map((output) => `    ${describeGangaOutput(output)}`),
  ];
}

function describe(record: PassRecord): string[] {
  const { module, run, pass } = record;
  const template =
    Object.entries(pass.template ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(' ') || '-';
  const amount =
    Object.entries(pass.amount ?? {})
      .map(([key, value]) => `${value} ${key}`)
      .join(', ') || '-';
  const lines = [
    `${module} run ${run} pass ${pass.pass}: ${pass.status} (label ${labelText(pass.label)}, priority ${pass.priority}, requested ${pass.created})`,
    `  RAT ${pass.rat_version}; macro ${record.macro_path ?? `(not in the ${pass.level === undefined ? 'production' : 'processing'} information)`} sha256 ${pass.macro_sha256 ?? '-'}`,
    `  event mode ${pass.event_mode ?? pass.level ?? '-'}: ${amount}; template ${template}; ratdb tag ${pass.ratdb_tag ?? '-'}`,
    ...describeProcessing(record),
  ];
  if (pass.like !== undefined) lines.push(`  an exact copy of pass ${pass.like.pass}`);
  else if (pass.late_of !== undefined)
    lines.push(`  reads the raw subfiles that reached run ${run} after pass ${pass.late_of} was taken`);
  else if (pass.request !== undefined)
    lines.push(`  request ${pass.request}, entry ${pass.request_entry ?? '-'}, job ${pass.request_index ?? '-'}`);
  lines.push(`  attempts${pass.attempts_dropped ? ` (${pass.attempts_dropped} older ones not kept)` : ''}:`);
  pass.attempts.forEach((attempt, index) =>
    lines.push(
      `    ${index + 1 + (pass.attempts_dropped ?? 0)}. ${attempt.site} ${attempt.status} ${attempt.started} → ${attempt.finished ?? '…'}${attempt.reason === undefined ? '' : `: ${attempt.reason}`}`,
    ),
  );
  if (pass.attempts.length === 0) lines.push('    none yet');
  lines.push('  jobs:');
  for (const subjob of pass.subjobs ?? []) {
    const ran =
      subjob.ran === undefined
        ? ''
        : ` on ${subjob.ran.host} ${subjob.ran.started} → ${subjob.ran.finished}, wrapper ${subjob.ran.wrapper_version}${subjob.ran.ratdb_tag === undefined ? '' : `, ratdb tag ${subjob.ran.ratdb_tag}`}`;
    lines.push(
      `    s${subjob.index}: backend id ${subjob.backend_id ?? '-'}, ${subjob.state ?? 'not submitted'}${subjob.exit_code === undefined ? '' : `, exit ${subjob.exit_code}`}${ran}`,
    );
    if (subjob.file !== undefined)
      lines.push(`      reads ${subjob.file}${subjob.checksum === undefined ? '' : ` (${subjob.checksum})`}`);
  }
  lines.push('  data:');
  for (const doc of record.data) for (const file of doc.files) lines.push(...describeFile(doc.data_type, file));
  if (record.data.length === 0) lines.push('    none');
  // the copy keeps the tag; saying it here shows whether the data came from a frozen RATDB or the live one
  const ratdb = pass.ratdb_tag === undefined ? 'the live RATDB (no tag)' : `ratdb tag ${pass.ratdb_tag}`;
  lines.push(
    `  to run it again exactly: gasp submit --like ${module} ${run} ${pass.pass}  (RAT ${pass.rat_version}, ${ratdb})`,
  );
  return lines;
}

/** A file as the grid's catalogues know it: LFN, GUID, checksums, and where each copy is. */
function describeFile(dataType: string, file: DataFile): string[] {
  return [
    `    ${dataType}: ${file.name}, ${file.size} bytes, ${file.events ?? '-'} events`,
    `      lfn ${file.lfn}`,
    `      guid ${file.guid}, adler32 ${file.adler32}, sha256 ${file.sha256}`,
    ...file.replicas.map(
      (replica) =>
        `      replica ${replica.se} ${replica.url}${replica.missing === undefined ? '' : ` (missing since ${replica.missing})`}`,
    ),
  ];
}

function processingPart(module: ProcessingModule | undefined): PassRecord['processing'] {
  if (module === undefined) return null;
  return {
    type: module.type ?? 'macro',
    ...(module.nhit_cut !== undefined && { nhit_cut: module.nhit_cut }),
    ganga_outputs: module.ganga_outputs ?? [],
  };
}

export function registerShow(program: Command): void {
  program
    .command('show')
    .description(
      "a pass's reproducibility record: RAT version, macro and its sha256, template values, ratdb tag, site, backend ids, wrapper version, and the data it made",
    )
    .argument('<module>', 'the module')
    .argument('<run>', 'the run number')
    .argument('[pass]', 'the pass (default: the last)')
    .option('--json', 'print the record as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText('after', '\nExample:\n  gasp show TeloadedBi214 300001 1')
    .action(async (module: string, run: string, passText: string | undefined, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<ConfigOptions & { json?: boolean }>();
      const problems: string[] = [];
      if (!/^\d+$/.test(run)) problems.push(`show: "${run}" is not a run number (expected MODULE RUN [PASS])`);
      if (passText !== undefined && !/^[1-9]\d*$/.test(passText))
        problems.push(`show: "${passText}" is not a pass number (expected 1, 2, …)`);
      if (problems.length > 0) throw new InputError(problems);
      const { config, log } = loadCommandConfig(options);
      const db = couchFromConfig(config.couchdb, { log }).use(config.couchdb.database);
      const doc = await db.find<JobDoc>(jobId(module, Number(run)));
      const wanted =
        passText === undefined ? Math.max(0, ...(doc?.passes.map((pass) => pass.pass) ?? [])) : Number(passText);
      const pass = doc?.passes.find((candidate) => candidate.pass === wanted);
      if (doc === undefined || pass === undefined) {
        throw new InputError([
          `show: ${module} run ${run}${passText === undefined ? '' : ` pass ${passText}`} is not in ${db.name}${doc === undefined ? '' : ` (its passes: ${doc.passes.map((one) => one.pass).join(', ')})`}`,
        ]);
      }
      // a processing pass (it has a level) ran a module of the processing information
      const processing = pass.level !== undefined;
      const [info, data] = await Promise.all([
        processing
          ? db.find<ProcessingInfoDoc>(processingInfoId(pass.rat_version))
          : db.find<ProductionInfoDoc>(productionInfoId(pass.rat_version)),
        dataDocsOf(db, [{ module, run: Number(run), pass: pass.pass }]),
      ]);
      const definition = info?.modules[module];
      const record: PassRecord = {
        module,
        run: Number(run),
        pass,
        macro_path: definition?.path ?? null,
        ...(processing && { processing: processingPart(definition as ProcessingModule | undefined) }),
        data,
      };
      if (options.json === true) print(JSON.stringify(record, null, 2));
      else for (const line of describe(record)) print(line);
    });
}
