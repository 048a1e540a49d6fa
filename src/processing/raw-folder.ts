import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RawFilesConfig } from '../config/config.js';

/** A file in the watched folder (here or on a storage element), as one poll saw it. */
export interface SeenFile {
  name: string;
  size: number;
  mtimeMs: number;
}

/** A raw subfile of a run, from its name. */
export interface RawSubfile extends SeenFile {
  run: number;
  subfile: number;
}

/** What one look at the folder found, sorted by what the names say. */
export interface FolderListing {
  raw: RawSubfile[];
  /** Runs with a closing file. */
  closed: Set<number>;
  /** Run type files, by run: the file name. */
  typeFiles: Map<number, string>;
  /** Names that match none of the patterns. */
  unmatched: string[];
}

/** The plain files of a folder, with sizes and times; throws the file system's error when it cannot be read. */
export function listFolder(folder: string): SeenFile[] {
  const files: SeenFile[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    try {
      const stat = statSync(join(folder, entry.name));
      files.push({ name: entry.name, size: stat.size, mtimeMs: stat.mtimeMs });
    } catch {
      // removed between listing and stat: the next poll sees the folder as it is then
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** Sorts the files of a folder by the configured name patterns. */
export function classify(files: readonly SeenFile[], patterns: RawFilesConfig): FolderListing {
  const listing: FolderListing = { raw: [], closed: new Set(), typeFiles: new Map(), unmatched: [] };
  for (const file of files) {
    const raw = patterns.rawPattern.exec(file.name)?.groups;
    if (raw?.run !== undefined && raw.subfile !== undefined && /^\d+$/.test(raw.run) && /^\d+$/.test(raw.subfile)) {
      listing.raw.push({ ...file, run: Number(raw.run), subfile: Number(raw.subfile) });
      continue;
    }
    const closed = runOf(patterns.closedPattern, file.name);
    if (closed !== undefined) {
      listing.closed.add(closed);
      continue;
    }
    const typed = runOf(patterns.typePattern, file.name);
    if (typed !== undefined) listing.typeFiles.set(typed, file.name);
    else listing.unmatched.push(file.name);
  }
  return listing;
}

function runOf(pattern: RegExp, name: string): number | undefined {
  const run = pattern.exec(name)?.groups?.run;
  return run !== undefined && /^\d+$/.test(run) ? Number(run) : undefined;
}

/** The run type a run type file's text holds (its first word), or undefined when it is empty or absent. */
export function runTypeIn(text: string | undefined): string | undefined {
  const word = text?.trim().split(/\s+/)[0];
  return word === '' ? undefined : word;
}
