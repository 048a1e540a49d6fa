import { basename } from 'node:path';
import type { Database } from '../db/database.js';
import { sha256OfFile } from '../files.js';
import { lfnOf } from '../model/data.js';
import type { DataDoc, DataFile, Replica } from '../model/documents.js';
import { seOfUrl } from '../model/storage-url.js';
import type { Storage } from '../sites/site.js';
import { adler32OfFile, normalAdler32 } from '../storage/adler32.js';
import { failed, remoteAdler32s, type PathFailed } from '../storage/xrdfs-session.js';
import { dataDocsOf } from './data-docs.js';
import type { Selected } from './selection.js';
import { listStorage, passFolders, placeKey, placeOf, type PassName, type Place } from './verify-places.js';
import { manifestOutputs, type GoneCopy, type RecordedOutput, type Registration } from './verify-repair.js';

/** One thing wrong, at a URL. */
export interface Problem {
  url: string;
  detail: string;
}

export interface VerifyReport {
  passes: number;
  documents: number;
  /** Recorded copies looked for (those marked missing before are not). */
  copies: number;
  ok: number;
  /** Copies a verify --yes marked missing before: not looked for again. */
  markedBefore: number;
  missing: Array<Problem & GoneCopy>;
  mismatched: Problem[];
  /** Files in a pass's folder no document names; `register` when they match their manifest. */
  unregistered: Array<Problem & { register?: Registration }>;
  /** Copies gasp cannot check: put there by a copy command, or the SE would not say. */
  unchecked: Problem[];
  unreachable: Array<{ server: string; reason: string; copies: number }>;
}

export interface VerifyContext {
  db: Database;
  /** The site this runs at, when known: its storage holds the passes' folders too; its job folders, their manifests. */
  site?: { storage: Storage; se: string | undefined; workRoot: string };
  onProgress?: (done: number, total: number) => void;
}

/** Problems that make verify exit 1: all but copies gasp cannot check. */
export const problemCount = (report: VerifyReport) =>
  report.missing.length +
  report.mismatched.length +
  report.unregistered.length +
  report.unreachable.reduce((sum, se) => sum + se.copies, 0);

type Sum = string | undefined | PathFailed;

/** Checksums to take: of SE files through one xrdfs session per SE, of files here by reading them (a few at once). */
class Checksums {
  private readonly wanted: Array<{ place: Place; sha256: boolean; then: (sum: Sum) => void }> = [];

  add(place: Place, sha256: boolean, then: (sum: Sum) => void): void {
    this.wanted.push({ place, sha256, then });
  }

  async take(onProgress: (done: number, total: number) => void = () => {}): Promise<void> {
    const total = this.wanted.length;
    const done = new Map<string, number>();
    const tell = (who: string, count: number) => {
      done.set(who, count);
      onProgress(
        [...done.values()].reduce((sum, n) => sum + n, 0),
        total,
      );
    };
    const servers = new Map<string, Array<(typeof this.wanted)[number]>>();
    const here: Array<(typeof this.wanted)[number]> = [];
    for (const item of this.wanted)
      if (item.place.kind === 'root')
        servers
          .set(item.place.server, servers.get(item.place.server) ?? [])
          .get(item.place.server)
          ?.push(item);
      else here.push(item);
    const remote = [...servers].map(async ([server, items]) => {
      const paths = [...new Set(items.map((item) => (item.place.kind === 'root' ? item.place.path : '')))];
      const sums = await remoteAdler32s(server, paths, (count) => tell(server, count)).catch(
        (error: unknown): Map<string, Sum> => new Map(paths.map((path) => [path, { error: (error as Error).message }])),
      );
      for (const item of items) item.then(item.place.kind === 'root' ? sums.get(item.place.path) : undefined);
    });
    let [next, read] = [0, 0];
    const reader = async () => {
      for (let item = here[next++]; item !== undefined; item = here[next++]) {
        const path = item.place.kind === 'file' ? item.place.path : '';
        // a file gone is missing; one that cannot be read is unchecked, never marked missing
        const sum = await (item.sha256 ? sha256OfFile(path) : adler32OfFile(path)).catch(
          (error: NodeJS.ErrnoException) =>
            error.code === 'ENOENT' ? undefined : { error: `${path}: ${error.code ?? error.message}` },
        );
        item.then(sum);
        tell('here', ++read);
      }
    };
    await Promise.all([...remote, ...Array.from({ length: 4 }, reader)]);
  }
}

interface Copy {
  doc: DataDoc;
  file: DataFile;
  replica: Replica;
  place: Place;
}

/** Compares one recorded copy with what storage has: missing, another size, another checksum, or as recorded. */
function checkCopy(copy: Copy, size: number | undefined, sums: Checksums, report: VerifyReport): void {
  const { doc, file, replica, place } = copy;
  const url = replica.url;
  if (size === undefined)
    return void report.missing.push({ url, doc: doc._id, lfn: file.lfn, detail: 'not on storage' });
  if (size !== file.size)
    return void report.mismatched.push({ url, detail: `${size} bytes on storage, ${file.size} recorded` });
  // documents from before adler32 are checked by sha256 where gasp can read the file, else by size only
  const sha256 = !file.adler32 && place.kind === 'file' && Boolean(file.sha256);
  if (!file.adler32 && !sha256) return void (report.ok += 1);
  const expected = sha256 ? file.sha256 : normalAdler32(file.adler32);
  sums.add(place, sha256, (sum) => {
    if (sum === undefined) report.missing.push({ url, doc: doc._id, lfn: file.lfn, detail: 'gone while verify ran' });
    else if (failed(sum)) report.unchecked.push({ url, detail: sum.error });
    else if (sum === expected) report.ok += 1;
    else
      report.mismatched.push({
        url,
        detail: `${sha256 ? 'sha256' : 'adler32'} ${sum} on storage, ${expected} recorded`,
      });
  });
}

/** What --yes would register a found file as: its pass's data document of the output's type. */
function registration(pass: PassName, url: string, se: string, size: number, recorded: RecordedOutput): Registration {
  const { subjob, output } = recorded;
  const id = `data:${pass.module}:${pass.run}:${pass.pass}:${output.data_type}`;
  return {
    doc: {
      _id: id,
      label: pass.label,
      module: pass.module,
      run: pass.run,
      pass: pass.pass,
      rat_version: pass.rat_version,
      data_type: output.data_type,
    },
    file: {
      subjob,
      name: output.file,
      lfn: lfnOf(pass, output.file),
      size,
      adler32: normalAdler32(output.adler32),
      sha256: output.sha256,
      events: output.events,
      url,
      replicas: [{ se, url }],
    },
  };
}

/** Checks a file no document names against what its pass's manifests recorded of a file of that name. */
function checkFound(
  ctx: VerifyContext,
  found: { place: Place; size: number; pass: PassName },
  se: string,
  sums: Checksums,
  report: VerifyReport,
  manifests: (pass: PassName) => Map<string, RecordedOutput[]>,
): void {
  const url = placeKey(found.place);
  const unregistered = (detail: string, register?: Registration): void => {
    report.unregistered.push({ url, detail, ...(register && { register }) });
  };
  if (ctx.site === undefined) return unregistered('no manifest read (run with -c on the site that ran its jobs)');
  const recorded = manifests(found.pass).get(basename(url)) ?? [];
  const sized = recorded.filter((entry) => entry.output.size === found.size && entry.output.adler32);
  const first = recorded[0]?.output;
  if (first === undefined) return unregistered('no manifest of its pass names it');
  if (sized.length === 0) return unregistered(`${found.size} bytes on storage, its manifest says ${first.size}`);
  sums.add(found.place, false, (sum) => {
    const match = sized.find((entry) => typeof sum === 'string' && normalAdler32(entry.output.adler32) === sum);
    if (match !== undefined)
      unregistered(
        `matches its manifest (subjob ${match.subjob})`,
        registration(found.pass, url, se, found.size, match),
      );
    else if (typeof sum === 'string')
      unregistered(`adler32 ${sum} on storage, its manifest says ${sized[0]?.output.adler32}`);
    else unregistered(sum === undefined ? 'gone while verify ran' : sum.error);
  });
}

/** The SE name a copy at this URL goes under: as other copies on its server are named, else as the site names its storage. */
function seNamer(docs: readonly DataDoc[], site: VerifyContext['site']): (url: string) => string {
  const names = new Map<string, string>();
  for (const doc of docs)
    for (const file of doc.files) for (const replica of file.replicas) names.set(seOfUrl(replica.url), replica.se);
  if (site?.storage.kind === 'root' && site.se !== undefined && !names.has(seOfUrl(site.storage.url)))
    names.set(seOfUrl(site.storage.url), site.se);
  return (url) => names.get(seOfUrl(url)) ?? seOfUrl(url);
}

/**
 * Checks the data documents of the selected passes against storage: each recorded copy is there
 * with its size and checksum, and each file in a pass's folder is named by a document. Reads
 * and lists only; `repair` (verify-repair.ts) writes what --yes may.
 */
export async function verifyPasses(ctx: VerifyContext, selected: readonly Selected[]): Promise<VerifyReport> {
  const passes: PassName[] = selected.map(({ doc, pass }) => ({
    label: pass.label,
    module: doc.module,
    run: doc.run,
    pass: pass.pass,
    rat_version: pass.rat_version,
  }));
  const docs = await dataDocsOf(ctx.db, passes);
  const replicas = docs.flatMap((doc) =>
    doc.files.flatMap((file) => file.replicas.map((replica) => ({ doc, file, replica, place: placeOf(replica.url) }))),
  );
  const copies = replicas.filter((copy) => copy.replica.missing === undefined);
  const report: VerifyReport = {
    passes: passes.length,
    documents: docs.length,
    copies: copies.length,
    ok: 0,
    markedBefore: replicas.length - copies.length,
    missing: [],
    mismatched: [],
    unregistered: [],
    unchecked: [],
    unreachable: [],
  };
  const listing = await listStorage(
    passFolders(passes, docs, ctx.site?.storage),
    copies.map((copy) => copy.place),
  );
  const sums = new Checksums();
  const behind = new Map<string, number>();
  for (const copy of copies) {
    const { place } = copy;
    if (place.kind === 'other')
      report.unchecked.push({ url: copy.replica.url, detail: 'put there by a copy command: gasp cannot check it' });
    else if (place.kind === 'root' && listing.unreachable.has(place.server))
      behind.set(place.server, (behind.get(place.server) ?? 0) + 1);
    else checkCopy(copy, listing.found.get(placeKey(place))?.size, sums, report);
  }
  for (const [server, reason] of listing.unreachable)
    report.unreachable.push({ server, reason, copies: behind.get(server) ?? 0 });
  const named = new Set(replicas.map((copy) => placeKey(copy.place)));
  const seOf = seNamer(docs, ctx.site);
  const read = new Map<string, Map<string, RecordedOutput[]>>();
  const manifests = (pass: PassName) => {
    const key = lfnOf(pass, '');
    const outputs = read.get(key) ?? manifestOutputs(ctx.site?.workRoot ?? '', pass);
    read.set(key, outputs);
    return outputs;
  };
  for (const [key, found] of listing.found)
    if (found.folder !== undefined && !named.has(key))
      checkFound(
        ctx,
        { place: found.place, size: found.size, pass: found.folder.pass },
        seOf(key),
        sums,
        report,
        manifests,
      );
  await sums.take(ctx.onProgress);
  for (const problems of [report.missing, report.mismatched, report.unregistered, report.unchecked])
    problems.sort((a, b) => a.url.localeCompare(b.url));
  return report;
}
