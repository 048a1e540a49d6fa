import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../../src/db/database.js';
import { folderWith } from './files.js';
import { couchSection } from './couch.js';

const GASP = fileURLToPath(new URL('../../bin/gasp.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `gasp` command as a user would, with an argument array. */
export function runGasp(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GASP, ...args], {
      cwd: options.cwd ?? fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, GASP_CONFIG: undefined, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const GASP_BIN = GASP;

/** Runs `gasp ARGS -c gasp.cfg` from a fresh folder whose config names this test database. */
export function gaspOn(db: Database, args: readonly string[]): Promise<CliResult> {
  const dir = folderWith({ 'gasp.cfg': couchSection(db.name) });
  return runGasp([...args, '-c', join(dir, 'gasp.cfg')], { cwd: dir });
}
