import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database } from '../db/database.js';
import { InputError } from '../errors.js';
import { makeUserFolder, readUserFile, writeFileAtomic } from '../files.js';
import { formatFileList, listEntriesOf, parseFileList, problemLines, type CopyType } from '../grab/filelist.js';
import { filesOfList } from '../grab/from-list.js';
import { checksOf, type GrabFile } from '../grab/grab.js';
import { plural } from '../words.js';
import { print } from './context.js';
import { bytes, fetchWithProgress } from './grab-progress.js';

/** Where --list writes, and how it names the files. */
export interface ListTarget {
  file: string;
  copyType: CopyType;
}

/** --list, --copy-type and --force read and checked; problems added one line each. */
export function readListTarget(
  file: string,
  copyType: string | undefined,
  force: boolean | undefined,
  problems: string[],
): ListTarget {
  const type = (copyType ?? 'guid').toUpperCase();
  if (type !== 'GUID' && type !== 'SURL')
    problems.push(`--copy-type: "${copyType}" is not a copy type (expected guid or surl)`);
  if (existsSync(file) && force !== true)
    problems.push(`--list: ${file} exists (expected a new file, or --force to replace it)`);
  else if (!existsSync(dirname(file)))
    problems.push(`--list: ${file} is in a folder that does not exist (expected a file in an existing folder)`);
  return { file, copyType: type === 'SURL' ? 'SURL' : 'GUID' };
}

/** `--list FILE`: the selection's files written as a GridTools list, whole; files it cannot name are said and left out. */
export function writeList({ file, copyType }: ListTarget, files: readonly GrabFile[]): void {
  const { entries, leftOut, problems } = listEntriesOf(files, copyType);
  if (problems.length > 0) throw new InputError(problems);
  for (const line of leftOut) print(`grab: left out ${line}`);
  if (entries.length === 0) {
    print(`grab: no file can be listed by ${copyType}; ${file} not written`);
    return;
  }
  writeFileAtomic(file, formatFileList(copyType, entries));
  const total = entries.reduce((sum, entry) => sum + entry.size, 0);
  print(`grab: ${plural(entries.length, 'file')}, ${bytes(total)}, listed by ${copyType} in ${file}`);
}

/** What the files of a list are checked by, in one phrase: "size, adler32 and sha256", or which files lack what. */
function checkedBy(files: readonly GrabFile[]): string {
  const count = (check: string) => files.filter((file) => checksOf(file).includes(check)).length;
  const part = (check: string) => {
    const n = count(check);
    return n === files.length ? check : n === 0 ? undefined : `${check} (${n} of them)`;
  };
  const checks = ['size', part('adler32'), part('sha256')].filter((check) => check !== undefined);
  return checks.length === 1 ? 'size only' : `${checks.slice(0, -1).join(', ')} and ${checks.at(-1)}`;
}

/** `--from-list FILE`: the whole list checked (every problem named, nothing fetched), then its files fetched into `dir`. */
export async function grabFromList(
  db: Database,
  file: string,
  options: { dir: string; parallel: number; copy: string[] | undefined; prefer: readonly string[] },
): Promise<void> {
  const { list, problems } = parseFileList(readUserFile(file, 'a GridTools file list, such as filelist.dat'));
  const { files, problems: more } =
    list === undefined ? { files: [], problems: [] } : await filesOfList(db, list, options.prefer);
  if (list === undefined || problems.length + more.length > 0)
    throw new InputError(problemLines(file, [...problems, ...more]));
  makeUserFolder('--dir', options.dir);
  const total = files.reduce((sum, one) => sum + one.size, 0);
  print(
    `grab: ${plural(files.length, 'file')} of ${file} (by ${list.copyType}), ${bytes(total)}, into ${options.dir}; checked by ${checkedBy(files)}`,
  );
  await fetchWithProgress(files, options.dir, options);
}
