import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lastLine, runCommand, type CommandResult } from '../backends/command.js';
import { below } from '../model/storage-url.js';
import type { BackendKind, Site } from '../sites/site.js';
import { Adler32 } from '../storage/adler32.js';
import { copyFile, remoteAdler32, removeFile } from '../storage/xrootd.js';
import { failed, isOutage, passed, skipped, type Check } from './check.js';

/** How long a batch-system command may take to answer. */
export const BACKEND_TIMEOUT_MS = 30_000;

/** Free space in the work folder below this is a problem. */
export const MIN_FREE_BYTES = 1024 ** 3;

/** The command that asks each batch system whether it answers, and what to do when it does not. */
const BACKEND_COMMANDS: Partial<Record<BackendKind, { argv: (site: Site) => string[]; fix: string }>> = {
  slurm: {
    argv: (site) => [
      'sinfo',
      '-h',
      '-o',
      '%P',
      ...(site.slurm.partition === undefined ? [] : ['-p', site.slurm.partition]),
    ],
    fix: 'run gasp where Slurm is installed and slurmctld answers (sinfo), or correct [slurm] partition',
  },
  condor: {
    argv: () => ['condor_status', '-total'],
    fix: 'run gasp where HTCondor is installed and its collector answers (condor_status)',
  },
  dirac: {
    argv: (site) => {
      const setup = site.dirac.setup;
      // the set-up script path reaches bash as "$1", never as text
      return setup === undefined
        ? ['dirac-proxy-info']
        : ['bash', '-c', 'source "$1" && shift && exec "$@"', 'gasp-doctor', setup, 'dirac-proxy-info'];
    },
    fix: 'set up the DIRAC client ([dirac] setup) and make a proxy: dirac-proxy-init -g snoplus_user',
  },
};

/** The backend's command is there and answers. Local and dry backends have nothing to ask. */
export async function checkBackend(site: Site): Promise<Check[]> {
  const command = BACKEND_COMMANDS[site.backend];
  if (command === undefined) return [passed('backend', `${site.backend}: nothing to check`)];
  const argv = command.argv(site);
  const shown = argv.includes('gasp-doctor') ? (argv.slice(-1)[0] ?? '') : argv.join(' ');
  let result: CommandResult;
  try {
    result = await runCommand(argv, { timeoutMs: BACKEND_TIMEOUT_MS });
  } catch (error) {
    // not installed, or no answer within the timeout
    return [failed('backend', `${site.backend}: ${(error as Error).message}`, command.fix)];
  }
  if (result.code !== 0)
    return [
      failed(
        'backend',
        `${site.backend}: ${shown} failed (exit ${result.code}): ${lastLine(result.stderr) || lastLine(result.stdout) || 'no message'}`,
        command.fix,
      ),
    ];
  if (site.backend === 'slurm' && site.slurm.partition !== undefined && result.stdout.trim() === '')
    return [failed('backend', `slurm: sinfo knows no partition ${site.slurm.partition}`, command.fix)];
  return [passed('backend', `${site.backend}: ${shown} answers`)];
}

/** A probe's name: no two doctors (or enqueues) on any machine write the same one. */
const probeName = () => `.gasp-probe-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** The site's storage takes a file and, on an SE, reports the adler32 of what it got: a probe written and removed. */
export async function checkStorage(site: Site): Promise<Check[]> {
  const { storage } = site;
  if (storage.kind === 'copy') return [skipped('storage', `a copy command (${storage.command[0] ?? ''}): not probed`)];
  const bytes = Buffer.from(`gasp storage probe from ${hostname()} at ${new Date().toISOString()}\n`);
  const ours = new Adler32().update(bytes).digest();
  if (storage.kind === 'file') {
    const probe = join(storage.root, probeName());
    try {
      mkdirSync(storage.root, { recursive: true });
      writeFileSync(probe, bytes);
      unlinkSync(probe);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return [
        failed(
          'storage',
          `file://${storage.root}: cannot write a file there (${code})`,
          `make ${storage.root} writable by this user, or correct storage in ${site.file}`,
        ),
      ];
    }
    return [passed('storage', `file://${storage.root}: writable (a probe written and removed)`)];
  }
  return checkRootStorage(site, storage.url, bytes, ours);
}

async function checkRootStorage(site: Site, url: string, bytes: Buffer, ours: string): Promise<Check[]> {
  const fix = `check the SE answers and this machine may write there (xrdfs ... ls), or correct storage in ${site.file}`;
  const local = join(mkdtempSync(join(tmpdir(), 'gasp-probe-')), 'probe');
  const target = below(url, probeName());
  try {
    writeFileSync(local, bytes);
    await copyFile(local, target, target);
    const theirs = await remoteAdler32(target).finally(() => removeFile(target).catch(() => undefined));
    if (theirs !== ours)
      return [failed('storage', `${url}: the SE's adler32 of a probe is ${theirs ?? 'not given'}, ours ${ours}`, fix)];
    return [passed('storage', `${url}: writable, adler32 ${ours} as ours (a probe written and removed)`)];
  } catch (error) {
    // an SE that does not answer now may in a minute: enqueue starts and waits for it
    const check = failed('storage', `${url}: ${(error as Error).message}`, fix);
    return [isOutage(error) ? { ...check, transient: true } : check];
  } finally {
    rmSync(dirname(local), { recursive: true, force: true });
  }
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/** Free space where the site's jobs work (the nearest folder of [local] workdir that exists). */
export function checkFreeDisk(site: Site, minFreeBytes = MIN_FREE_BYTES): Check[] {
  const workdir = resolve(site.local.workdir);
  let folder = workdir;
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  const stats = statfsSync(folder);
  const free = stats.bavail * stats.bsize;
  const detail = `${gib(free)} free in ${folder}`;
  if (free >= minFreeBytes) return [passed('free disk', detail)];
  return [
    failed(
      'free disk',
      `${detail} (expected ${gib(minFreeBytes)} at least)`,
      `free space there, or point [local] workdir in ${site.file} at a bigger disk`,
    ),
  ];
}
