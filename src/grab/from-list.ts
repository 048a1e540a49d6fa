import type { Database } from '../db/database.js';
import { currentDataDoc, type StoredDataDoc } from '../model/data.js';
import type { DataDoc, DataFile } from '../model/documents.js';
import { seOfUrl } from '../model/storage-url.js';
import { dataDocsOf } from '../shifter/data-docs.js';
import type { FileList, LineProblem, ListEntry } from './filelist.js';
import { isPlainFileName, type GrabFile } from './grab.js';
import { grabFileOf } from './list.js';

/** GUIDs asked about in one request of data/by_guid. */
const PER_REQUEST = 1_000;

/** The URLs gasp fetches itself; a SURL of another scheme (srm://, https://) is GridTools' to fetch. */
const FETCHABLE = /^(x?root|file):\/\//;

type Line = ListEntry & { line: number };

/** A file of a data document, with its document. */
interface Recorded {
  doc: DataDoc;
  file: DataFile;
}

/** The files these GUIDs name, by GUID, from data/by_guid. */
async function filesByGuid(db: Database, guids: readonly string[]): Promise<Map<string, Recorded>> {
  const found = new Map<string, Recorded>();
  const unique = [...new Set(guids)];
  for (let start = 0; start < unique.length; start += PER_REQUEST) {
    const keys = unique.slice(start, start + PER_REQUEST);
    const rows = await db.view<string, string, StoredDataDoc>('data', 'by_guid', { keys, include_docs: true });
    for (const row of rows.rows) {
      if (!row.doc) continue;
      const { doc } = currentDataDoc(row.doc);
      const file = doc.files.find((one) => one.guid.replace(/^guid:/, '') === row.key);
      if (file !== undefined && !found.has(row.key)) found.set(row.key, { doc, file });
    }
  }
  return found;
}

/** The pass and file name a storage URL names when it ends in gasp's LFN, `/label/module/run/pass/name`. */
function lfnOfUrl(url: string): { module: string; run: number; pass: number; lfn: string } | undefined {
  const match = /\/([^/]+)\/([^/]+)\/(\d+)\/(\d+)\/([^/]+)$/.exec(url.replace(/^[a-z][\w+.-]*:\/\/[^/]*/i, ''));
  if (match === null) return undefined;
  const [, label, module, run, pass, name] = match as unknown as [string, string, string, string, string, string];
  return { module, run: Number(run), pass: Number(pass), lfn: `/${label}/${module}/${run}/${pass}/${name}` };
}

/** The recorded files these storage URLs are copies of, by URL: a replica's URL, or the same LFN on another SE. */
async function filesByUrl(db: Database, urls: readonly string[]): Promise<Map<string, Recorded>> {
  const named = urls.flatMap((url) => {
    const lfn = lfnOfUrl(url);
    return lfn === undefined ? [] : [{ url, ...lfn }];
  });
  const passKey = (at: { module: string; run: number; pass: number }) => `${at.module}\u0000${at.run}\u0000${at.pass}`;
  const passes = [...new Map(named.map((at) => [passKey(at), at])).values()];
  const byPass = new Map<string, DataDoc[]>();
  for (const doc of await dataDocsOf(db, passes)) byPass.set(passKey(doc), [...(byPass.get(passKey(doc)) ?? []), doc]);
  const found = new Map<string, Recorded>();
  for (const { url, lfn, ...at } of named)
    for (const doc of byPass.get(passKey(at)) ?? [])
      for (const file of doc.files)
        if (!found.has(url) && (file.lfn === lfn || file.replicas.some((replica) => replica.url === url)))
          found.set(url, { doc, file });
  return found;
}

/** How a list's line disagrees with the file recorded in the database, or undefined when it does not. */
function disagreement(entry: Line, { file }: Recorded, adler32: string): string | undefined {
  if (entry.size !== file.size)
    return `size ${entry.size} differs from the ${file.size} bytes recorded for ${file.name}`;
  if (entry.adler32 !== '' && adler32 !== '' && entry.adler32 !== adler32)
    return `adler32 ${entry.adler32} differs from the ${adler32} recorded for ${file.name}`;
  return undefined;
}

/** The file to fetch for one line: the list's name, size and adler32, what the database adds, and the copies to try. */
function fileOfLine(entry: Line, known: GrabFile | undefined, replicas: GrabFile['replicas']): GrabFile {
  return {
    ...(known ?? { sha256: '', events: null }),
    name: entry.name,
    size: entry.size,
    // -99999 in the list: the database's, where it has one
    adler32: entry.adler32 !== '' ? entry.adler32 : (known?.adler32 ?? ''),
    replicas,
  };
}

/**
 * The files a GridTools list names, ready for grabFiles, and every problem of its lines with the
 * database (a GUID it does not hold, a size it records otherwise) or with fetching (a scheme gasp cannot). A GUID is looked up in the database (its copies, in the
 * order of `prefer`, and its sha256); a SURL is the one copy, fetched only when gasp can (root://,
 * file://), with the sha256 of the file the database records at that URL or LFN where there is one.
 */
export async function filesOfList(
  db: Database,
  list: FileList,
  prefer: readonly string[],
): Promise<{ files: GrabFile[]; problems: LineProblem[] }> {
  const problems: LineProblem[] = [];
  const at = ({ line }: Line, problem: string) => problems.push({ line, problem });
  const byGuid = list.copyType === 'GUID';
  const sources = list.entries.map((entry) => entry.source);
  const recorded = byGuid ? await filesByGuid(db, sources) : await filesByUrl(db, sources);
  const files: GrabFile[] = [];
  for (const entry of list.entries) {
    if (!isPlainFileName(entry.name)) at(entry, `name "${entry.name}" is not a plain file name (expected no folders)`);
    const found = recorded.get(entry.source);
    if (byGuid && found === undefined) {
      at(entry, `GUID ${entry.source} is not in ${db.name} (expected the GUID of a file gasp recorded)`);
      continue;
    }
    if (!byGuid && !FETCHABLE.test(entry.source)) {
      const scheme = entry.source.split(':')[0] ?? '';
      at(
        entry,
        `${entry.source} cannot be fetched by gasp (expected a root:// or file:// SURL; ${scheme}:// is for GridTools' grabber)`,
      );
      continue;
    }
    const fromDb = found === undefined ? undefined : grabFileOf(found.doc, found.file, prefer);
    const wrong = found === undefined ? undefined : disagreement(entry, found, fromDb?.adler32 ?? '');
    if (wrong !== undefined) at(entry, `${wrong} (expected the list to agree with the database)`);
    const one = fromDb?.replicas.find((replica) => replica.url === entry.source);
    const replicas = byGuid ? (fromDb?.replicas ?? []) : [one ?? { se: seOfUrl(entry.source), url: entry.source }];
    files.push(fileOfLine(entry, fromDb, replicas));
  }
  return { files, problems };
}
