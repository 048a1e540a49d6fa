import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DataDoc } from '../model/documents.js';
import { below, parseRootUrl, rootUrl } from '../model/storage-url.js';
import type { Storage } from '../sites/site.js';
import { listFolders } from '../storage/xrdfs-session.js';
import { ping, type ListedFile } from '../storage/xrootd.js';
import { mainLabel } from '../model/label.js';

/** Where a copy of a file is, as gasp reaches it: on an SE by root://, in a folder here, or through a copy command (unreachable to gasp). */
export type Place = { kind: 'root'; server: string; path: string } | { kind: 'file'; path: string } | { kind: 'other' };

export function placeOf(url: string): Place {
  try {
    if (/^x?root:/.test(url)) return { kind: 'root', ...parseRootUrl(url) };
    if (url.startsWith('file:')) return { kind: 'file', path: fileURLToPath(url) };
  } catch {
    // a URL gasp cannot read is one it cannot check
  }
  return { kind: 'other' };
}

/** One name for a place whatever form its URL was written in (`root://h//a` and `root://h/a` are one file). */
export function placeKey(place: Place): string {
  if (place.kind === 'root') return rootUrl(place.server, place.path);
  return place.kind === 'file' ? pathToFileURL(place.path).href : '';
}

/** A pass as its storage folder and its manifests name it. */
export type PassName = Pick<DataDoc, 'label' | 'module' | 'run' | 'pass'>;

/** The folder of a pass's files on one storage: `<storage root>/<label>/<module>/<run>/<pass>`. */
export interface PassFolder {
  pass: PassName;
  place: Exclude<Place, { kind: 'other' }>;
}

const passKey = (pass: PassName) => `${pass.module}\t${pass.run}\t${pass.pass}`;

/**
 * The folders holding each pass's files: where its recorded copies are (a copy's URL minus its LFN
 * is its storage's root) and, given a site, on the site's storage.
 */
export function passFolders(passes: readonly PassName[], docs: readonly DataDoc[], storage?: Storage): PassFolder[] {
  const folders = new Map<string, PassFolder>();
  const add = (pass: PassName, place: PassFolder['place']) => folders.set(placeKey(place), { pass, place });
  const byPass = new Map(passes.map((pass) => [passKey(pass), pass]));
  for (const doc of docs)
    for (const file of doc.files)
      for (const replica of file.replicas) {
        const place = placeOf(replica.url);
        const pass = byPass.get(passKey(doc));
        if (place.kind !== 'other' && pass !== undefined && place.path.endsWith(file.lfn))
          add(pass, { ...place, path: dirname(place.path) });
      }
  for (const pass of passes) {
    const parts = [mainLabel(pass.label), pass.module, String(pass.run), String(pass.pass)];
    if (storage?.kind === 'root') {
      const { server, path } = parseRootUrl(storage.url);
      add(pass, { kind: 'root', server, path: below(path, ...parts) });
    } else if (storage?.kind === 'file') add(pass, { kind: 'file', path: join(storage.root, ...parts) });
  }
  return [...folders.values()];
}

/** What is on storage: each file found (by place key) with its size, the pass folder it is in, and the SEs that did not answer. */
export interface Listing {
  found: Map<string, { size: number; place: Place; folder?: PassFolder }>;
  unreachable: Map<string, string>;
}

/** Files in a folder here and below it; none when it is not there. */
function filesBelow(path: string): Array<{ path: string; size: number }> {
  let entries;
  try {
    entries = readdirSync(path, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => entry.isFile())
    .flatMap((entry) => {
      const file = join(entry.parentPath, entry.name);
      // a file renamed or removed during the walk (a copy being staged) is not there to report
      try {
        return [{ path: file, size: statSync(file).size }];
      } catch {
        return [];
      }
    });
}

/** A recorded file here outside any pass folder, if it is there. */
function noteFile(listing: Listing, place: Extract<Place, { kind: 'file' }>): void {
  try {
    const stat = statSync(place.path);
    if (stat.isFile()) listing.found.set(placeKey(place), { size: stat.size, place });
  } catch {
    // not there: missing
  }
}

/**
 * Lists the pass folders and the recorded copies outside them: one xrdfs session per SE (an SE
 * that does not answer is named with why), a folder here read directly.
 */
export async function listStorage(folders: readonly PassFolder[], copies: readonly Place[]): Promise<Listing> {
  const listing: Listing = { found: new Map(), unreachable: new Map() };
  const listed = new Set(folders.map((folder) => placeKey(folder.place)));
  const alone = copies.filter(
    (place) => place.kind !== 'other' && !listed.has(placeKey({ ...place, path: dirname(place.path) })),
  );
  const note = (place: Place, size: number, folder?: PassFolder) =>
    listing.found.set(placeKey(place), { size, place, ...(folder && { folder }) });
  for (const folder of folders)
    if (folder.place.kind === 'file')
      for (const file of filesBelow(folder.place.path)) note({ kind: 'file', path: file.path }, file.size, folder);
  for (const place of alone) if (place.kind === 'file') noteFile(listing, place);
  const servers = new Set(
    [...folders.map((folder) => folder.place), ...alone].flatMap((place) =>
      place.kind === 'root' ? [place.server] : [],
    ),
  );
  await Promise.all(
    [...servers].map(async (server) => {
      const inFolders = folders.filter((folder) => folder.place.kind === 'root' && folder.place.server === server);
      const paths = [
        ...inFolders.map((folder) => folder.place.path),
        ...alone.flatMap((place) => (place.kind === 'root' && place.server === server ? [place.path] : [])),
      ];
      let files: Map<string, ListedFile[]>;
      try {
        await ping(server);
        files = await listFolders(server, paths);
      } catch (error) {
        listing.unreachable.set(server, (error as Error).message);
        return;
      }
      for (const folder of inFolders)
        for (const file of files.get(folder.place.path) ?? [])
          note({ kind: 'root', server, path: file.path }, file.size, folder);
      for (const path of paths.slice(inFolders.length))
        for (const file of files.get(path) ?? []) note({ kind: 'root', server, path: file.path }, file.size);
    }),
  );
  return listing;
}
