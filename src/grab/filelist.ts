/**
 * The file lists of SNO+'s GridTools (`filelist.dat`, written by its list generators and read by
 * its `grabber`): a first line `GUID` or `SURL` saying how files are named, then one line per file,
 * `name<TAB>size<TAB>guid-or-surl<TAB>adler32`. GridTools reads a line as exactly four
 * whitespace-separated fields with an integer size; a GUID may lack its `guid:` prefix, and adler32
 * `-99999` means unknown (not checked).
 */
import type { GrabFile } from './grab.js';

export type CopyType = 'GUID' | 'SURL';
export const COPY_TYPES: readonly CopyType[] = ['GUID', 'SURL'];

/** What GridTools writes for a file whose adler32 is not known: not checked. */
export const UNKNOWN_ADLER32 = '-99999';

/** One file of a list. */
export interface ListEntry {
  name: string;
  size: number;
  /** A GUID (without `guid:`) or a storage URL, as the list's copy type says. */
  source: string;
  /** Eight lowercase hex digits, or '' when the list says -99999. */
  adler32: string;
}

/** A list as read: its copy type and its files, each with the line it is on (1 is the copy type). */
export interface FileList {
  copyType: CopyType;
  entries: Array<ListEntry & { line: number }>;
}

const FIELDS_EXPECTED = 'expected 4, separated by whitespace: name, size, GUID or SURL, adler32';

/** The text of a list, as GridTools' write_grabber_file lays it out. */
export function formatFileList(copyType: CopyType, entries: readonly ListEntry[]): string {
  const lines = entries.map(
    ({ name, size, source, adler32 }) => `${name}\t${size}\t${source}\t${adler32 === '' ? UNKNOWN_ADLER32 : adler32}`,
  );
  return `${[copyType, ...lines].join('\n')}\n`;
}

/** A field a list cannot hold (GridTools splits lines on whitespace), or undefined when it can. */
export function unlistable(value: string): string | undefined {
  if (value === '') return 'is empty';
  return /\s/.test(value) ? 'has whitespace' : undefined;
}

/** One file line read into an entry, or the problems with it (without the `FILE:LINE: ` they get). */
function readEntry(text: string, copyType: CopyType): ListEntry | string[] {
  const fields = text.split(/\s+/).filter((field) => field !== '');
  if (fields.length !== 4) return [`${fields.length} ${fields.length === 1 ? 'field' : 'fields'} (${FIELDS_EXPECTED})`];
  const [name, size, source, adler32] = fields as [string, string, string, string];
  const problems: string[] = [];
  if (!/^\d+$/.test(size) || !Number.isSafeInteger(Number(size)))
    problems.push(`size "${size}" is not a whole number of bytes (expected such as 52428)`);
  const sum = adler32 === UNKNOWN_ADLER32 ? '' : adler32.toLowerCase().replace(/^0x/, '');
  if (sum !== '' && !/^[0-9a-f]{1,8}$/.test(sum))
    problems.push(
      `adler32 "${adler32}" is not hex digits (expected such as 0a1b2c3d, or ${UNKNOWN_ADLER32} when unknown)`,
    );
  const guid = source.replace(/^guid:/i, '');
  if (copyType === 'GUID' && guid === '') problems.push(`GUID "${source}" is empty (expected such as guid:<uuid>)`);
  if (copyType === 'SURL' && !/^[a-z][\w+.-]*:\/\//i.test(source))
    problems.push(`SURL "${source}" is not a URL (expected such as root://host:port//path/${name})`);
  if (problems.length > 0) return problems;
  return {
    name,
    size: Number(size),
    source: copyType === 'GUID' ? guid : source,
    adler32: sum === '' ? '' : sum.padStart(8, '0'),
  };
}

/** What is wrong with one line of a list (1 is the copy type), and what was expected there. */
export interface LineProblem {
  line: number;
  problem: string;
}

/** Problems of a list as the lines a person reads, in the order of the list: `FILE:LINE: what is wrong (expected …)`. */
export function problemLines(file: string, problems: readonly LineProblem[]): string[] {
  return [...problems].sort((a, b) => a.line - b.line).map(({ line, problem }) => `${file}:${line}: ${problem}`);
}

/**
 * Reads a list, checking all of it: the files of the lines that read well, and a problem for each
 * line that does not (no list at all when the first line is not a copy type). Blank lines are
 * passed over; `\r\n` endings are read as `\n`.
 */
export function parseFileList(text: string): { list?: FileList; problems: LineProblem[] } {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const first = (lines[0] ?? '').trim();
  if (!(COPY_TYPES as readonly string[]).includes(first)) {
    const what = first === '' ? 'is empty' : `"${first}" is not a copy type`;
    return {
      problems: [{ line: 1, problem: `${what} (expected GUID or SURL on the first line, as GridTools writes)` }],
    };
  }
  const copyType = first as CopyType;
  const problems: LineProblem[] = [];
  const entries: FileList['entries'] = [];
  const lineOf = new Map<string, number>();
  for (const [at, text] of lines.entries()) {
    if (at === 0 || text.trim() === '') continue;
    const line = at + 1;
    const entry = readEntry(text, copyType);
    if (Array.isArray(entry)) {
      problems.push(...entry.map((problem) => ({ line, problem })));
      continue;
    }
    const earlier = lineOf.get(entry.name);
    if (earlier !== undefined)
      problems.push({ line, problem: `${entry.name} is already on line ${earlier} (expected each file once)` });
    else entries.push({ ...entry, line });
    lineOf.set(entry.name, line);
  }
  if (problems.length === 0 && entries.length === 0)
    problems.push({
      line: 2,
      problem: `no files listed (expected a line per file after the first: name, size, ${copyType}, adler32)`,
    });
  return { list: { copyType, entries }, problems };
}

/** The entries of a list of these files, the files left out (no GUID, or no copy), and the files a list cannot hold. */
export function listEntriesOf(
  files: readonly GrabFile[],
  copyType: CopyType,
): { entries: ListEntry[]; leftOut: string[]; problems: string[] } {
  const entries: ListEntry[] = [];
  const leftOut: string[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const source = copyType === 'GUID' ? file.guid : file.replicas[0]?.url;
    if (source === undefined || source === '') {
      leftOut.push(
        `${file.name}: ${copyType === 'GUID' ? 'no GUID' : 'no copy left (every replica is marked missing)'}`,
      );
      continue;
    }
    const badName = unlistable(file.name);
    const badSource = unlistable(source);
    if (badName !== undefined)
      problems.push(
        `${file.name}: the name ${badName}, which a GridTools list cannot hold (expected names without spaces)`,
      );
    else if (badSource !== undefined)
      problems.push(`${file.name}: its ${copyType} "${source}" ${badSource}, which a GridTools list cannot hold`);
    else entries.push({ name: file.name, size: file.size, source, adler32: file.adler32 });
  }
  return { entries, leftOut, problems };
}
