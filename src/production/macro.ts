import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { NAMED_BY_COMMAND_LINE, outputFiles, type OutputNaming } from '../model/outputs.js';

/** RAT's output processors and the data type each writes. */
export const OUTPUT_PROCESSORS: Readonly<Record<string, string>> = {
  outroot: 'ratds',
  outntuple: 'ntuple',
  outsoc: 'soc',
};

/** File endings each data type's file name may carry, longest first. */
const ENDINGS: Readonly<Record<string, string[]>> = {
  ratds: ['.root'],
  ntuple: ['.ntuple.root', '.root'],
  soc: ['.soc.root', '.root'],
};

export interface MacroFacts {
  /** The macro sets a generator rate or adds a generator that has its own rate. */
  rateBased: boolean;
  generators: string[];
  /** Data types in the order the macro adds them; a second of a kind is `other_<kind>`. */
  outputs: string[];
  /** For each `other_<kind>`: what its file name adds, from its `/rat/procset file`. */
  otherSuffix: Record<string, string>;
  /** For each output its `/rat/procset file` value (quotes off), where the macro names the file. */
  files: Record<string, string>;
  /** For each output the line that adds its processor. */
  lines: Record<string, number>;
  /** Every `${field}`, in order of first appearance. */
  template: string[];
  sha256: string;
}

export interface MacroReading {
  facts: MacroFacts;
  /** Each names the file and line: `path:12: …`. */
  problems: string[];
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `"${OUTPUT}_scintFit.ntuple.root"` → `_scintFit` for an ntuple. */
export function suffixOf(fileValue: string, dataType: string): string {
  let name = basename(fileValue.replace(/^["']|["']$/g, ''));
  name = name.replace(/^(\$\{[^}]*\})+/, '');
  const ending = (ENDINGS[dataType] ?? ['.root']).find((candidate) => name.endsWith(candidate));
  return ending === undefined ? name : name.slice(0, -ending.length);
}

/** The template fields of one line, in order; problems for an unclosed `${` or a bad name. */
function fieldsOf(line: string, where: string, problems: string[]): string[] {
  const fields: string[] = [];
  let from = 0;
  for (;;) {
    const start = line.indexOf('${', from);
    if (start < 0) return fields;
    const end = line.indexOf('}', start + 2);
    if (end < 0) {
      problems.push(`${where}: unclosed "\${" (expected \${name} on one line)`);
      return fields;
    }
    const name = line.slice(start + 2, end);
    if (FIELD.test(name)) fields.push(name);
    else problems.push(`${where}: "\${${name}}" is not a template field (expected a name of letters, digits and _)`);
    from = end + 1;
  }
}

/**
 * Reads what make-production needs from a Geant4/RAT macro. Lines whose first character (after
 * spaces) is `#` are comments and count for nothing, template fields included.
 */
export function readMacro(
  bytes: Buffer | string,
  file: string,
  internalRateGenerators: ReadonlySet<string>,
): MacroReading {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  const problems: string[] = [];
  const facts: MacroFacts = {
    rateBased: false,
    generators: [],
    outputs: [],
    otherSuffix: {},
    files: {},
    lines: {},
    template: [],
    // of the bytes on disk, so `sha256sum` of the macro gives the same
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  /** The output the latest /rat/proc line added, which a following /rat/procset file names. */
  let latestOutput: string | undefined;

  const fields = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    // as Geant4 reads it: from the first word starting with # on, the line is a comment
    const words = raw.trim().split(/\s+/);
    const comment = words.findIndex((word) => word.startsWith('#'));
    const line = (comment < 0 ? words : words.slice(0, comment)).join(' ');
    const where = `${file}:${index + 1}`;
    if (line === '') return;
    for (const field of fieldsOf(line, where, problems)) fields.add(field);
    const [command, first, ...rest] = line.split(/\s+/);
    if (command === '/generator/rate/set') facts.rateBased = true;
    if (command === '/generator/add' && first !== undefined) {
      facts.generators.push(first);
      if (internalRateGenerators.has(first)) facts.rateBased = true;
    }
    if (command === '/rat/proc' || command === '/rat/proclast') {
      const kind = first === undefined ? undefined : OUTPUT_PROCESSORS[first];
      latestOutput = undefined;
      if (kind === undefined) return;
      const other = `other_${kind}`;
      if (facts.outputs.includes(other)) {
        problems.push(`${where}: a third ${first} processor (expected at most two of a kind: ${kind} and ${other})`);
        return;
      }
      latestOutput = facts.outputs.includes(kind) ? other : kind;
      facts.outputs.push(latestOutput);
      facts.lines[latestOutput] = index + 1;
    }
    if (
      command === '/rat/procset' &&
      first === 'file' &&
      latestOutput !== undefined &&
      facts.files[latestOutput] === undefined
    ) {
      facts.files[latestOutput] = rest.join(' ').replace(/^["']|["']$/g, '');
      if (latestOutput.startsWith('other_')) {
        const kind = latestOutput.slice('other_'.length);
        const suffix = suffixOf(rest.join(' '), kind);
        if (suffix === '')
          problems.push(
            `${where}: the second ${kind} file adds nothing to the name (expected a suffix such as \${OUTPUT}_fit)`,
          );
        else facts.otherSuffix[latestOutput] = suffix;
      }
    }
  });
  facts.template = [...fields];
  return { facts, problems };
}

const PROCESSOR_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(OUTPUT_PROCESSORS).map(([processor, kind]) => [kind, processor]),
);

/**
 * How each output of a macro gets its file name, and why any cannot get the one the job wrapper
 * stages (`${OUTPUT}.root` …): a file named in the macro must be that name; a file the macro leaves
 * unnamed can be named only by rat's `-o`, which sets the default file of OutROOT, one name for all.
 */
export function outputNaming(facts: Pick<MacroFacts, 'outputs' | 'otherSuffix' | 'files' | 'lines'>): {
  naming: Record<string, OutputNaming>;
  reasons: string[];
} {
  const naming: Record<string, OutputNaming> = {};
  const reasons: string[] = [];
  const expected = outputFiles('${OUTPUT}', { outputs: facts.outputs, other_suffix: facts.otherSuffix });
  for (const { data_type: dataType, file: wanted } of expected) {
    const kind = dataType.replace(/^other_/, '');
    const processor = PROCESSOR_OF[kind] ?? kind;
    const at = `line ${facts.lines[dataType] ?? '?'}`;
    const named = facts.files[dataType];
    if (named !== undefined) {
      naming[dataType] = named === wanted ? 'macro' : 'none';
      if (named !== wanted)
        reasons.push(
          `${at}: its ${processor} file is "${named}" (expected "${wanted}", the name the job wrapper stages)`,
        );
    } else if (dataType.startsWith('other_')) {
      naming[dataType] = 'none';
      reasons.push(
        `${at}: the second ${processor} processor has no /rat/procset file (expected one naming the ${dataType} file, such as "\${OUTPUT}_fit${wanted.slice('${OUTPUT}_other'.length)}")`,
      );
    } else if (NAMED_BY_COMMAND_LINE.has(kind)) {
      naming[dataType] = 'command line';
    } else {
      naming[dataType] = 'none';
      reasons.push(
        `${at}: the ${processor} processor has no /rat/procset file, and rat's command line names only the ${PROCESSOR_OF.ratds} file (expected /rat/procset file "${wanted}")`,
      );
    }
  }
  return { naming, reasons };
}
