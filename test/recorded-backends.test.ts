/**
 * HTCondor and DIRAC cannot be installed here: their backends are tested against recorded command
 * output (test/fixtures/recorded, from the tools' documentation and source; see its README).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendError, BackendUnavailableError } from '../src/backends/backend.js';
import type { CommandResult, CommandRunner } from '../src/backends/command.js';
import { CondorBackend } from '../src/backends/condor.js';
import { DiracBackend, diracJobGroup } from '../src/backends/dirac.js';
import { loadSite } from '../src/sites/site.js';
import { scriptJob } from './support/backends.js';
import { folderWith } from './support/files.js';

const RECORDED = join(import.meta.dirname, 'fixtures', 'recorded');
const recorded = (tool: string, file: string) => readFileSync(join(RECORDED, tool, file), 'utf8');

/** Answers each command from a recording; keeps every call for the test to read. */
function recordings(answers: Record<string, (argv: readonly string[]) => CommandResult>): {
  run: CommandRunner;
  calls: string[][];
} {
  const calls: string[][] = [];
  const run: CommandRunner = async (argv) => {
    calls.push([...argv]);
    const program = argv[0] === 'bash' ? (argv[5] ?? '') : (argv[0] ?? '');
    const answer = answers[program];
    if (answer === undefined) throw new Error(`no recording for ${program}`);
    return answer(argv);
  };
  return { run, calls };
}

const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

function site(backend: string, section: string) {
  return loadSite(
    join(
      folderWith({
        'site.ini': `name = ${backend}-site\nbackend = ${backend}\nstorage = file:///data\n[rat]\n7.0.8 = CVMFS\n${section}`,
      }),
      'site.ini',
    ),
  );
}

describe('the HTCondor backend (recorded output)', () => {
  const condorSite = site('condor', '[condor]\nrequest_memory = 2G\naccounting_group = group_snoplus\n');

  it('submits with a submit file and reads the id from condor_submit -terse', async () => {
    const { run, calls } = recordings({ condor_submit: () => ok(recorded('condor', 'condor_submit-terse.txt')) });
    const job = scriptJob('condor', 'exit 0');
    expect(await new CondorBackend(condorSite, run).submit([job])).toEqual(['123.0']);
    expect(calls[0]).toEqual(['condor_submit', '-terse', join(job.workdir, 'job.sub')]);
    const submitFile = readFileSync(join(job.workdir, 'job.sub'), 'utf8');
    expect(submitFile).toContain(`executable = ${job.command[0]}`);
    expect(submitFile).toContain('request_memory = 2G');
    expect(submitFile).toContain('accounting_group = group_snoplus');
    expect(submitFile.trim().endsWith('queue 1')).toBe(true);
    // a retry after a failure asks for the label policy's extra memory
    await new CondorBackend(condorSite, run).submit([{ ...job, extraMemoryMb: 1024 }]);
    expect(readFileSync(join(job.workdir, 'job.sub'), 'utf8')).toContain('request_memory = 3072M');
  });

  it('reads queue and history in one call each: running, held, completed, exit code, removed, lost', async () => {
    const { run, calls } = recordings({
      condor_q: (argv) =>
        ok(
          argv.includes('123.0')
            ? recorded('condor', 'condor_q-json-running.json')
            : recorded('condor', 'condor_q-json-none.txt'),
        ),
      condor_history: () =>
        ok(
          `[\n${[
            recorded('condor', 'condor_history-json-exit3.json'),
            recorded('condor', 'condor_history-json-removed.json').replace('123', '125'),
          ]
            .map((text) => text.trim().slice(1, -1).trim())
            .join(',\n')}\n]\n`,
        ),
    });
    const statuses = await new CondorBackend(condorSite, run).status(['123.0', '124.0', '125.0', '999.0']);
    expect(Object.fromEntries(statuses)).toEqual({
      '123.0': { state: 'running' },
      '124.0': { state: 'failed', exitCode: 3 },
      '125.0': { state: 'failed', exitCode: 143, reason: 'canceled' },
      '999.0': { state: 'lost', reason: 'HTCondor no longer knows this job' },
    });
    expect(calls.map((call) => call[0])).toEqual(['condor_q', 'condor_history']);
    const held = recordings({
      condor_q: () => ok(recorded('condor', 'condor_q-json-held.json')),
      condor_history: () => ok(recorded('condor', 'condor_history-json-none.txt')),
    });
    expect((await new CondorBackend(condorSite, held.run).status(['123.0'])).get('123.0')).toEqual({
      state: 'queued',
      reason: 'held: via condor_hold (by user alice)',
    });
    const done = recordings({
      condor_q: () => ok(''),
      condor_history: () => ok(recorded('condor', 'condor_history-json-completed.json')),
    });
    expect((await new CondorBackend(condorSite, done.run).status(['123.0'])).get('123.0')).toEqual({
      state: 'completed',
      exitCode: 0,
    });
  });

  it('cancels with condor_rm, an unknown job being no error', async () => {
    const { run, calls } = recordings({
      condor_rm: (argv) =>
        argv.includes('999.0')
          ? { code: 1, stdout: '', stderr: recorded('condor', 'condor_rm-unknown-stderr.txt') }
          : ok(recorded('condor', 'condor_rm.txt')),
    });
    await new CondorBackend(condorSite, run).cancel(['123.0']);
    await new CondorBackend(condorSite, run).cancel(['999.0']);
    expect(calls).toEqual([
      ['condor_rm', '123.0'],
      ['condor_rm', '999.0'],
    ]);
  });

  it('calls a schedd that does not answer unavailable, and an answer it cannot read a site problem', async () => {
    const down = recordings({
      condor_q: () => ({
        code: 1,
        stdout: '',
        stderr: '\n-- Failed to fetch ads from: <127.0.0.1:9618> : schedd\nCEDAR:6001:Failed to connect\n',
      }),
    });
    await expect(new CondorBackend(condorSite, down.run).status(['1.0'])).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    const garbled = recordings({ condor_q: () => ok('-- Schedd: x : <127.0.0.1>\n ID OWNER\n') });
    await expect(new CondorBackend(condorSite, garbled.run).status(['1.0'])).rejects.toThrow(BackendError);
    const refused = recordings({
      condor_submit: () => ({
        code: 1,
        stdout: '',
        stderr: recorded('condor', 'condor_submit-error-noexec-stderr.txt'),
      }),
    });
    await expect(new CondorBackend(condorSite, refused.run).submit([scriptJob('c', 'exit 0')])).rejects.toThrow(
      "condor_submit failed (exit 1): ERROR: No 'executable' parameter was provided",
    );
  });

  it('asks condor_history for the jobs that left the queue with one -constraint, which HTCondor before 8.3.6 also accepts', async () => {
    const ads = [
      recorded('condor', 'condor_history-json-exit3.json'),
      recorded('condor', 'condor_history-json-removed.json').replace('123', '125'),
    ];
    const { run, calls } = recordings({
      condor_q: () => ok(recorded('condor', 'condor_q-json-none.txt')),
      // as condor_history before 8.3.6 answers a second job id
      condor_history: (argv) =>
        argv.filter((arg) => /^\d+\.\d+$/.test(arg)).length > 1
          ? { code: 1, stdout: '', stderr: recorded('condor', 'condor_history-ids-before-8.3.6-stderr.txt') }
          : ok(`[\n${ads.map((text) => text.trim().slice(1, -1).trim()).join(',\n')}\n]\n`),
    });
    const statuses = await new CondorBackend(condorSite, run).status(['124.0', '125.0']);
    expect(Object.fromEntries(statuses)).toEqual({
      '124.0': { state: 'failed', exitCode: 3 },
      '125.0': { state: 'failed', exitCode: 143, reason: 'canceled' },
    });
    expect(calls[1]).toEqual([
      'condor_history',
      '-json',
      '-attributes',
      'ClusterId,ProcId,JobStatus,ExitCode,ExitBySignal,ExitSignal,HoldReason,RemoveReason',
      '-match',
      '2',
      '-constraint',
      '(ClusterId == 124 && ProcId == 0) || (ClusterId == 125 && ProcId == 0)',
    ]);
  });

  it('raises its own error for a garbled condor_q -json answer, in status and lookup: a list cut short is unavailable, a table a site problem', async () => {
    const truncated = recordings({ condor_q: () => ok(recorded('condor', 'condor_q-json-truncated.txt')) });
    await expect(new CondorBackend(condorSite, truncated.run).status(['123.0'])).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    await expect(new CondorBackend(condorSite, truncated.run).lookup(['gasp-a-1-p1-s0'])).rejects.toThrow(
      'condor_q -json answered a list cut short: "[\\n{\\n  \\"ClusterId\\": 123,\\n  \\"JobSt"',
    );
    const table = recordings({ condor_q: () => ok('-- Schedd: x : <127.0.0.1>\n ID OWNER\n') });
    await expect(new CondorBackend(condorSite, table.run).lookup(['gasp-a-1-p1-s0'])).rejects.toBeInstanceOf(
      BackendError,
    );
    const object = recordings({ condor_q: () => ok('{}') });
    await expect(new CondorBackend(condorSite, object.run).status(['123.0'])).rejects.toThrow(
      'condor_q -json answered "{}", not a list of job ads',
    );
  });

  it('fails a submit file condor_submit refuses (BackendError), and tries again when it cannot reach the schedd', async () => {
    const submit = (file: string) =>
      new CondorBackend(
        condorSite,
        recordings({ condor_submit: () => ({ code: 1, stdout: '', stderr: recorded('condor', file) }) }).run,
      ).submit([scriptJob('c', 'exit 0')]);
    for (const refused of ['condor_submit-error-noexec-stderr.txt', 'condor_submit-error-nofile-stderr.txt']) {
      await expect(submit(refused)).rejects.toBeInstanceOf(BackendError);
      await expect(submit(refused)).rejects.toThrow(`(check [condor] in ${condorSite.file})`);
    }
    await expect(submit('condor_submit-error-noschedd-stderr.txt')).rejects.toBeInstanceOf(BackendUnavailableError);
    const down = submit('condor_submit-error-connect-stderr.txt');
    await expect(down).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(down).rejects.toThrow(
      'condor_submit failed (exit 1): CEDAR:6001:Failed to connect to <127.0.0.1:9618',
    );
  });

  it('refuses a job folder that its submit file would read as a macro, calling no condor command', async () => {
    const { run, calls } = recordings({});
    const job = scriptJob('macro', 'exit 0');
    const hostile = { ...job, workdir: `${job.workdir}/$(touch PWNED)` };
    await expect(new CondorBackend(condorSite, run).submit([hostile])).rejects.toThrow(
      /HTCondor would read ".*\$\(touch PWNED\)" as a submit macro or a new line \(expected a \[local\] workdir in .* without "\$\(" or line breaks\)/,
    );
    expect(calls).toEqual([]);
  });
});

describe('the DIRAC backend (recorded output)', () => {
  const diracSite = site(
    'dirac',
    '[dirac]\nsetup = /cvmfs/dirac.egi.eu/dirac/bashrc_egi\nsites = LCG.RAL.uk, LCG.QMUL.uk\nbanned_sites = LCG.Bad.xx\n',
  );

  it('submits a JDL after sourcing the DIRAC set-up, and reads the id', async () => {
    const { run, calls } = recordings({
      'dirac-wms-job-submit': () => ok(recorded('dirac', 'dirac-wms-job-submit.txt')),
    });
    const job = scriptJob('dirac', 'exit 0');
    expect(await new DiracBackend(diracSite, run).submit([job])).toEqual(['1234']);
    expect(calls[0]).toEqual([
      'bash',
      '-c',
      'source "$1" && shift && exec "$@"',
      'gasp-dirac',
      '/cvmfs/dirac.egi.eu/dirac/bashrc_egi',
      'dirac-wms-job-submit',
      join(job.workdir, 'job.jdl'),
    ]);
    const jdl = readFileSync(join(job.workdir, 'job.jdl'), 'utf8');
    expect(jdl).toContain('Executable = "job.sh";');
    expect(jdl).toContain('Site = {"LCG.RAL.uk", "LCG.QMUL.uk"};');
    expect(jdl).toContain('BannedSites = {"LCG.Bad.xx"};');
    expect(jdl).toContain('OutputSandbox = {"job.out", "job.err", "manifest.json"};');
  });

  it('reads the status of many jobs in one call, in both line formats, an unknown id being lost', async () => {
    const { run, calls } = recordings({
      'dirac-wms-job-status': () =>
        ok(
          recorded('dirac', 'dirac-wms-job-status.txt') +
            recorded('dirac', 'dirac-wms-job-status-legacy-docs.txt').replace('1234', '1236').replace('Done', 'Failed'),
        ),
    });
    const statuses = await new DiracBackend(diracSite, run).status(['1234', '1235', '1236', '9999']);
    expect(Object.fromEntries(statuses)).toEqual({
      '1234': { state: 'completed', exitCode: 0 },
      '1235': { state: 'queued' },
      '1236': { state: 'failed', exitCode: 1, reason: 'Execution Complete' },
      '9999': { state: 'lost', reason: 'DIRAC does not know this job' },
    });
    expect(calls).toHaveLength(1);
  });

  it('kills jobs, an unknown id being no error', async () => {
    const { run, calls } = recordings({
      'dirac-wms-job-kill': () => ok(recorded('dirac', 'dirac-wms-job-kill-unknown.txt')),
    });
    await new DiracBackend(diracSite, run).cancel(['9999']);
    expect(calls).toHaveLength(1);
  });

  it('fails a JDL DIRAC refuses with its reason (BackendError), and tries again when DIRAC does not answer', async () => {
    const answer = (file: string) => () => ({ code: 2, stdout: recorded('dirac', file), stderr: '' });
    const submit = (file: string) =>
      new DiracBackend(diracSite, recordings({ 'dirac-wms-job-submit': answer(file) }).run).submit([
        scriptJob('d', 'exit 0'),
      ]);
    const cpu = submit('dirac-wms-job-submit-invalid-cputime.txt');
    await expect(cpu).rejects.toBeInstanceOf(BackendError);
    await expect(cpu).rejects.toThrow(
      `site dirac-site: DIRAC refused the job: Invalid JDL: 1 validation error for BaseJobDescriptionModel cpuTime Value error, cpuTime out of bounds (must be between 100 and 500000) [type=value_error, input_value=1000000, input_type=int] (check [dirac] in ${diracSite.file})`,
    );
    const unparsable = submit('dirac-wms-job-submit-error.txt');
    await expect(unparsable).rejects.toBeInstanceOf(BackendError);
    await expect(unparsable).rejects.toThrow(
      'DIRAC refused the job: Invalid job description ( 1501 : Invalid job JDL)',
    );
    const down = submit('dirac-wms-job-submit-unreachable.txt');
    await expect(down).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(down).rejects.toThrow(
      "dirac-wms-job-submit failed (exit 2): [Errno 111] Connection refused:ConnectionRefusedError(111, 'Connection refused')",
    );
  });

  it("names each job group so it fits DIRAC's 32-character JobGroup column, keeping the full name as JobName", async () => {
    const { run } = recordings({ 'dirac-wms-job-submit': () => ok(recorded('dirac', 'dirac-wms-job-submit.txt')) });
    const job = { ...scriptJob('group', 'exit 0'), name: 'gasp-scintillator-300000-p1-s0-1a2b3c4d' };
    await new DiracBackend(diracSite, run).submit([job]);
    const jdl = readFileSync(join(job.workdir, 'job.jdl'), 'utf8');
    expect(jdl).toContain('JobName = "gasp-scintillator-300000-p1-s0-1a2b3c4d";');
    expect(jdl).toContain('JobGroup = "gasp-dc94875d0d1e1a9cd4f45450d24";');
    expect(diracJobGroup(job.name)).toHaveLength(32);
    expect(diracJobGroup(`${job.name}x`)).not.toBe(diracJobGroup(job.name));
  });

  it('looks a job up by its group from the claim\'s day: the id under "==> Selected", nothing for "No jobs were selected"', async () => {
    const name = 'gasp-scintillator-300000-p1-s0-1a2b3c4d';
    const { run, calls } = recordings({
      'dirac-wms-select-jobs': (argv) =>
        ok(
          argv.includes(`--JobGroup=${diracJobGroup(name)}`)
            ? recorded('dirac', 'dirac-wms-select-jobs.txt')
            : recorded('dirac', 'dirac-wms-select-jobs-none.txt'),
        ),
    });
    const found = await new DiracBackend(diracSite, run).lookup(
      [name, 'gasp-scintillator-300001-p1-s0-99999999'],
      new Date('2026-11-23T23:50:00Z'),
    );
    expect(Object.fromEntries(found)).toEqual({ [name]: '1234' });
    expect(calls.map((call) => call.slice(5))).toEqual([
      ['dirac-wms-select-jobs', '--JobGroup=gasp-dc94875d0d1e1a9cd4f45450d24', '--Date=2026-11-23'],
      [
        'dirac-wms-select-jobs',
        `--JobGroup=${diracJobGroup('gasp-scintillator-300001-p1-s0-99999999')}`,
        '--Date=2026-11-23',
      ],
    ]);
    // a claim just after midnight may be yesterday's by DIRAC's clock
    await new DiracBackend(diracSite, run).lookup([name], new Date('2026-11-24T00:10:00Z'));
    expect(calls.at(-1)?.at(-1)).toBe('--Date=2026-11-23');
    // without the claim's time it looks 30 days back, not only at today's jobs (DIRAC's default)
    await new DiracBackend(diracSite, run).lookup([name]);
    expect(calls.at(-1)?.at(-1)).toBe(
      `--Date=${new Date(Date.now() - 30 * 86_400_000 - 3_600_000).toISOString().slice(0, 10)}`,
    );
  });

  it('calls a lookup DIRAC could not answer unavailable, never "not found" (the job would run twice)', async () => {
    const crashed = recordings({
      'dirac-wms-select-jobs': () => ({
        code: 1,
        stdout: '',
        stderr: recorded('dirac', 'dirac-wms-select-jobs-unreachable-stderr.txt'),
      }),
    });
    await expect(new DiracBackend(diracSite, crashed.run).lookup(['gasp-a-1-p1-s0'])).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    const refused = recordings({
      'dirac-wms-select-jobs': () => ok(recorded('dirac', 'dirac-wms-select-jobs-cant-select.txt')),
    });
    const lookup = new DiracBackend(diracSite, refused.run).lookup(['gasp-a-1-p1-s0']);
    await expect(lookup).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(lookup).rejects.toThrow("dirac-wms-select-jobs: Can't select jobs: [Errno 111] Connection refused");
  });
});
