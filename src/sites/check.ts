import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ratSetupLine, type RatVersion } from './rat.js';
import type { Site } from './site.js';

/** What checking one `[rat]` version on this machine found. */
export type RatCheck =
  | { version: string; outcome: 'ok'; ratroot: string; rat: string }
  | { version: string; outcome: 'not checked'; why: string }
  | { version: string; outcome: 'problem'; problem: string };

/** How long one set-up may take: a first CVMFS access fetches catalogues. */
export const SETUP_TIMEOUT_MS = 60_000;

// fixed text: no value from a user is in it; the set-up line reaches bash as the wrapper passes it
const PROBE = 'printf "RATROOT=%s\\n" "${RATROOT:-}"; printf "rat=%s\\n" "$(command -v rat || true)"';

/**
 * The environment a set-up line starts from: ours without RATROOT and with the system's PATH, so a
 * RAT the person running the check has set up already cannot make a script that sets up nothing pass.
 */
function cleanEnvironment(): NodeJS.ProcessEnv {
  const { RATROOT: _ratroot, ...env } = process.env;
  return { ...env, PATH: '/usr/local/bin:/usr/bin:/bin' };
}

interface SetupRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs the set-up line as bin/gasp-job's set_up does: `bash -c '<setup> && exec "$@"'`, the probe as arguments. */
function runSetup(setup: string, timeoutMs: number): Promise<SetupRun> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `${setup} && exec "$@"`, 'gasp-sites-check', 'bash', '-c', PROBE], {
      env: cleanEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // the whole process group: a script that started something must not outlive the check
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: error.message, timedOut });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const lastLine = (text: string) => text.trim().split('\n').at(-1)?.trim() ?? '';

/** What the set-up of one version does here: RATROOT set and `rat` found, or what is wrong. */
async function checkSetup(site: Site, entry: RatVersion, timeoutMs: number): Promise<RatCheck> {
  const { version } = entry;
  const setup = ratSetupLine(site.rat, version) ?? '';
  const run = await runSetup(setup, timeoutMs);
  const problem = (text: string): RatCheck => ({
    version,
    outcome: 'problem',
    problem: `${text} (set-up line: ${setup})`,
  });
  if (run.timedOut) return problem(`its set-up did not finish within ${timeoutMs / 1000} s`);
  if (run.code !== 0)
    return problem(`its set-up failed (exit ${run.code ?? 'killed'}): ${lastLine(run.stderr) || 'no message'}`);
  const value = (name: string) => run.stdout.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1] ?? '';
  const ratroot = value('RATROOT');
  const rat = value('rat');
  if (ratroot === '' && rat === '')
    return problem(
      'sourcing it sets no RATROOT and puts no rat on PATH (expected an env script that exports RATROOT and adds $RATROOT/bin to PATH)',
    );
  if (ratroot === '') return problem('sourcing it sets no RATROOT (expected the env script to export RATROOT)');
  if (rat === '')
    return problem(`sourcing it puts no rat on PATH (RATROOT is ${ratroot}; expected $RATROOT/bin on PATH)`);
  return { version, outcome: 'ok', ratroot, rat };
}

/**
 * Checks each RAT version a site lists, on this machine: an env script must exist (always); where it
 * does, and for CVMFS versions where the CVMFS root is mounted, its set-up must set RATROOT and put
 * `rat` on PATH. CVMFS versions on a machine without the CVMFS root are not checked here.
 */
export async function checkRatVersions(site: Site, timeoutMs = SETUP_TIMEOUT_MS): Promise<RatCheck[]> {
  return Promise.all(
    [...site.rat.versions.values()].map(async (entry): Promise<RatCheck> => {
      if (entry.source === 'script' && !existsSync(entry.script)) {
        return {
          version: entry.version,
          outcome: 'problem',
          problem: `env script ${entry.script} does not exist (expected the absolute path of a script that sets up RAT ${entry.version})`,
        };
      }
      if (entry.source === 'cvmfs' && !existsSync(site.rat.cvmfs))
        return { version: entry.version, outcome: 'not checked', why: `not checked here (no ${site.rat.cvmfs})` };
      return checkSetup(site, entry, timeoutMs);
    }),
  );
}

/** One line per problem: the site file, `[rat] <version>` and what is wrong. */
export const describeRatProblems = (site: Site, checks: readonly RatCheck[]): string[] =>
  checks.flatMap((check) =>
    check.outcome === 'problem' ? [`${site.file}: [rat] ${check.version}: ${check.problem}`] : [],
  );
