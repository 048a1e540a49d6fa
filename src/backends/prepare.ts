import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pass, ProductionModule, Subjob } from '../model/documents.js';
import type { Manifest } from '../model/manifest.js';
import { ratArguments } from '../model/event-mode.js';
import { outputFiles } from '../model/outputs.js';
import { PACKAGE_ROOT } from '../paths.js';
import { ratSetupLine } from '../sites/rat.js';
import type { Site } from '../sites/site.js';
import { BackendError, type JobInput, type JobSpec, type PreparedJob } from './backend.js';
import { mainLabel } from '../model/label.js';

export type { JobSpec };

/** The wrapper every backend runs (bin/gasp-job: Python 3 and bash, for worker nodes without Node). */
export const JOB_WRAPPER = join(PACKAGE_ROOT, 'bin', 'gasp-job');

export interface JobToPrepare {
  module: string;
  run: number;
  pass: Pass;
  subjob: number;
  production: ProductionModule;
  /** RAT's arguments when they do not follow from an event mode (processing: the input file or run). */
  ratArgs?: string[];
  /** A processing module of type script: the wrapper runs `/bin/bash` on it instead of rat. */
  type?: 'macro' | 'script';
  /** More values the wrapper fills in (processing: INPUT, a sub_run job's raw file). */
  fields?: Record<string, string>;
  /** A root:// file the wrapper copies in before rat runs (the site's storage tool does it). */
  input?: Omit<JobInput, 'tool'>;
}

/** The folder of the job's folder a root:// input is copied into: apart from the outputs, so never one of them. */
export const INPUT_FOLDER = 'inputs';

/**
 * How a processing job reads its subjob's file: `path` is what rat's `-i` and INPUT are given. A
 * file:// URL becomes its local path and a name or path stays as it is; a root:// URL is read from
 * a copy the wrapper makes in the job's folder, keeping the file's name (RAT picks its reader by
 * the name's ending), checked against the subjob's adler32 when it has one.
 */
export function subjobInput(subjob: Subjob): { path: string; copy?: Omit<JobInput, 'tool'> } | undefined {
  const { file } = subjob;
  if (file === undefined) return undefined;
  if (file.startsWith('file://')) return { path: fileURLToPath(file) };
  if (!/^x?root:\/\//.test(file)) return { path: file };
  const name = file.split('?')[0]?.split('/').at(-1) ?? '';
  const path = `${INPUT_FOLDER}/${name === '' || name === '.' || name === '..' ? 'input' : name}`;
  const adler32 = /^adler32:(?:0x)?([0-9a-f]{1,8})$/i.exec(subjob.checksum ?? '')?.[1];
  return {
    path,
    copy: {
      url: file,
      file: path,
      ...(adler32 !== undefined && { checksum: `adler32:${adler32.toLowerCase().padStart(8, '0')}` }),
    },
  };
}

/** What the wrapper reads (spec.json); its fields are the wrapper's contract. */

/** RAT's `-o FILE` for the output the macro leaves to the command line (it sets OutROOT's default file name). */
function commandLineNames(outputs: JobSpec['outputs']): string[] {
  return outputs.flatMap((output) => (output.named_by === 'command line' ? ['-o', output.file] : []));
}

function storageSpec(site: Site, path: string): JobSpec['storage'] {
  const { storage } = site;
  if (storage.kind === 'file') return { kind: 'file', root: storage.root, path };
  if (storage.kind === 'root') return { kind: 'root', url: storage.url, tool: site.storageTool, path };
  return { kind: 'copy', command: storage.command, path };
}

export function jobSpec(site: Site, job: JobToPrepare): JobSpec {
  const { pass } = job;
  const setup = ratSetupLine(site.rat, pass.rat_version);
  if (setup === undefined)
    throw new BackendError(`site ${site.name}: no set-up for RAT ${pass.rat_version} in ${site.file} [rat]`);
  const mode = pass.event_mode ?? job.production.event_mode;
  const events = pass.subjobs?.[job.subjob]?.events ?? pass.amount?.events;
  const base = `${job.module}_r${job.run}_p${pass.pass}_s${job.subjob}`;
  const path = `${mainLabel(pass.label)}/${job.module}/${job.run}/${pass.pass}`;
  const outputs = outputFiles(base, job.production);
  // a job whose outputs nothing can name fails after all its work: never send it (make-production warned, submit refuses)
  const unnamed = outputs.filter((output) => output.named_by === 'none').map((output) => output.data_type);
  if (unnamed.length > 0)
    throw new BackendError(
      `${job.module}: nothing can name its ${unnamed.join(', ')} file (${job.production.unnameable ?? 'see make-production'})`,
    );
  return {
    version: 2,
    job: { module: job.module, run: job.run, pass: pass.pass, subjob: job.subjob, label: mainLabel(pass.label) },
    rat: { version: pass.rat_version, setup },
    macro: {
      path: job.production.path,
      sha256: pass.macro_sha256 ?? job.production.sha256,
      template: pass.template ?? {},
      ...(job.type === 'script' && { type: 'script' as const }),
    },
    // a script takes no arguments (GASP ran `/bin/bash SCRIPT`): its values reach it in the environment
    rat_args:
      job.type === 'script'
        ? []
        : [
            ...commandLineNames(outputs),
            ...(job.ratArgs ??
              ratArguments(mode, {
                run: job.run,
                ...(events !== undefined && { events }),
                ...(pass.amount?.seconds !== undefined && { seconds: pass.amount.seconds }),
              })),
          ],
    fields: {
      ...job.fields,
      OUTPUT: base,
      RUN: String(job.run),
      ...(events !== undefined && { NEVENTS: String(events) }),
    },
    ...(job.input !== undefined && { input: { ...job.input, tool: site.storageTool } }),
    outputs,
    ratdb_tag: pass.ratdb_tag ?? null,
    storage: storageSpec(site, path),
    events: events ?? null,
  };
}

/** The job's name in the batch system: the claim token in it lets a restarted client find the job. */
export function jobName(module: string, run: number, pass: number, subjob: number, token?: string): string {
  return `gasp-${module}-${run}-p${pass}-s${subjob}${token === undefined ? '' : `-${token.slice(0, 8)}`}`;
}

/** Where a job's files live: spec.json, job.out, job.err, its outputs and manifest.json. */
export function jobFolder(workRoot: string, module: string, run: number, pass: Pass, subjob: number): string {
  // one folder per attempt (the claim token), so a new attempt never reads an old attempt's manifest
  const attempt = pass.claim?.token === undefined ? '' : `-${pass.claim.token.slice(0, 8)}`;
  return join(passFolder(workRoot, mainLabel(pass.label), module, run, pass.pass), `s${subjob}${attempt}`);
}

/** The folder of a pass's job folders (`s<subjob>[-<token>]`, one per subjob and attempt). */
export function passFolder(workRoot: string, label: string, module: string, run: number, pass: number): string {
  return resolve(workRoot, label, module, String(run), `p${pass}`);
}

/** The manifest.json the job wrapper wrote in a job folder; undefined when it is not there (yet) or not whole. */
export function readManifest(file: string): Manifest | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** A job folder's name: its subjob, and the attempt's token when it had one. */
export const JOB_FOLDER_NAME = /^s(\d+)(?:-[\w]+)?$/;

/**
 * Makes the job's folder and its spec.json (written whole: a temporary name, then a rename); the
 * returned job is ready for any backend. Asynchronous, so a cycle prepares many jobs at once.
 * `write: false` (a backend that runs no wrapper, such as dry) checks the spec and writes nothing.
 */
export async function prepareJob(
  site: Site,
  job: JobToPrepare,
  workRoot: string,
  token?: string,
  { write = true } = {},
): Promise<PreparedJob> {
  const spec = jobSpec(site, job);
  const workdir = jobFolder(workRoot, job.module, job.run, job.pass, job.subjob);
  if (write) {
    await mkdir(workdir, { recursive: true });
    const file = join(workdir, 'spec.json');
    await writeFile(`${file}.${process.pid}.tmp`, `${JSON.stringify(spec, null, 2)}\n`);
    await rename(`${file}.${process.pid}.tmp`, file);
  }
  return {
    name: jobName(job.module, job.run, job.pass.pass, job.subjob, token),
    workdir,
    command: [JOB_WRAPPER, 'spec.json'],
    stdout: join(workdir, 'job.out'),
    stderr: join(workdir, 'job.err'),
    spec,
  };
}
