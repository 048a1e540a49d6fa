import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lchownSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { UnavailableError } from '../errors.js';
import { ping } from './xrootd.js';

/** A storage element on this machine: Debian's xrootd serving a folder, with server-side adler32. */
export interface LocalSe {
  /** `root://127.0.0.1:PORT`; files are below it as `root://127.0.0.1:PORT//path`. */
  url: string;
  /** The folder the server serves (its oss.localroot): `/x` on the SE is `<data>/x` here. */
  data: string;
  stop(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
    });
  });

/** xrootd refuses to run as root: as root it runs as the package's xrootd user, which must own its folders. */
function runAsUser(dir: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const uid = spawnSync('id', ['-u', 'xrootd'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'xrootd'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0)
    throw new UnavailableError(
      'xrootd refuses to run as root and there is no xrootd user (apt-get install xrootd-server)',
    );
  const owner = [Number(uid.stdout), Number(gid.stdout)] as const;
  // lchown, and no following links: a server that ran here before leaves links to /proc in its admin folder
  const own = (path: string) => {
    lchownSync(path, ...owner);
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) own(join(path, name));
  };
  own(dir);
  // the xrootd user must be able to pass through every folder above (mkdtemp's folders are 0700)
  for (let above = dirname(resolve(dir)); ; above = dirname(above)) {
    const { mode, uid: ownerId } = statSync(above);
    if ((mode & 0o001) === 0 && ownerId !== owner[0])
      throw new UnavailableError(
        `xrootd runs as the xrootd user, who cannot enter ${above} (chmod o+x it, or choose another folder for the storage element)`,
      );
    if (above === dirname(above)) break;
  }
  return ['-R', 'xrootd'];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts xrootd serving `<dir>/data` on a free port of 127.0.0.1 and waits until it answers;
 * `exported` is the path it serves (a grid SE serves its VO's path only, such as /snoplus).
 * Its log is `<dir>/xrootd.log`. Throws UnavailableError when xrootd is not installed or does not start.
 */
export async function startLocalSe(dir: string, port?: number, exported = '/'): Promise<LocalSe> {
  const data = join(dir, 'data');
  for (const folder of [data, join(dir, 'admin'), join(dir, 'run')]) mkdirSync(folder, { recursive: true });
  const chosen = port ?? (await freePort());
  const config = join(dir, 'xrootd.cfg');
  writeFileSync(
    config,
    [
      `all.export ${exported}`,
      `oss.localroot ${data}`,
      `xrd.port ${chosen}`,
      'xrootd.chksum adler32',
      `all.adminpath ${join(dir, 'admin')}`,
      `all.pidpath ${join(dir, 'run')}`,
      '',
    ].join('\n'),
  );
  const user = runAsUser(dir);
  // in the foreground with its output in a file: with -b and a log in a root-owned folder it dies silently
  const log = openSync(join(dir, 'xrootd.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn('xrootd', [...user, '-c', config], { stdio: ['ignore', log, log], detached: true });
  } catch (error) {
    throw new UnavailableError(`xrootd: ${(error as Error).message}`);
  }
  let exited: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => {
    exited = error.code === 'ENOENT' ? 'xrootd: command not found (apt-get install xrootd-server)' : error.message;
  });
  child.once(
    'exit',
    (code) => (exited ??= `xrootd exited with ${code ?? 'a signal'} (see ${join(dir, 'xrootd.log')})`),
  );
  const url = `root://127.0.0.1:${chosen}`;
  for (let waited = 0; ; waited += 200) {
    if (exited !== undefined) throw new UnavailableError(exited);
    try {
      await ping(url);
      break;
    } catch (error) {
      if (waited > 15_000) {
        child.kill('SIGKILL');
        throw new UnavailableError(`xrootd on port ${chosen} did not answer within 15s: ${(error as Error).message}`);
      }
    }
    await pause(200);
  }
  return {
    url,
    data,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}
