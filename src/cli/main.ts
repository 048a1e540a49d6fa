import { Command, CommanderError } from 'commander';
import { overridableKeys } from '../config/config.js';
import { GaspError } from '../errors.js';
import { GASP_VERSION } from '../paths.js';
import { scrubCredentials } from '../scrub.js';
import { registerConfigCheck } from './config-check.js';
import { logLevelOption } from './context.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerEnqueue } from './enqueue.js';
import { registerLockRun } from './lock-run.js';
import { registerMigrate } from './migrate.js';
import { registerShifterTools } from './shifter.js';
import { registerSummary } from './summary.js';
import { registerSwitchOver } from './switch-over.js';
import { registerGrab } from './grab.js';
import { registerTiming } from './timing.js';
import { registerShow } from './show.js';
import { registerDashboard } from './dashboard.js';
import { registerWhy } from './why.js';
import { registerPolicy } from './policy.js';
import { registerExactly } from './exactly.js';
import { registerInfo } from './info.js';
import { registerMakeProduction } from './make-production.js';
import { registerServe } from './serve.js';
import { registerProcess } from './process.js';
import { registerRuns } from './runs.js';
import { registerSitesCheck } from './sites-check.js';
import { registerSubmit } from './submit.js';
import { registerViewsPush } from './views-push.js';

export function buildProgram(): Command {
  const program = new Command('gasp')
    .description('Run simulation and data-processing campaigns on many computing sites from one CouchDB job database.')
    .version(GASP_VERSION)
    // usable before the command too (gasp --log-level debug enqueue); each command lists its own
    .addOption(logLevelOption().hideHelp())
    .exitOverride()
    // program options only before the command, so a command may have its own --version (make-production)
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true });
  // subcommands inherit exitOverride and showHelpAfterError from here
  registerServe(program);
  registerViewsPush(program);
  registerMakeProduction(program);
  registerInfo(program);
  registerSubmit(program);
  registerExactly(program);
  registerRuns(program);
  registerEnqueue(program);
  registerLockRun(program);
  registerShifterTools(program);
  registerSummary(program);
  registerGrab(program);
  registerTiming(program);
  registerShow(program);
  registerMigrate(program);
  registerSwitchOver(program);
  registerDashboard(program);
  registerWhy(program);
  registerPolicy(program);
  registerProcess(program);
  registerConfigCheck(program);
  registerSitesCheck(program);
  registerDoctor(program);
  registerDemo(program);
  addLogLevelToLeaves(program);
  const envHelp = overridableKeys()
    .map(({ section, key, env }) => `  ${env.padEnd(26)} [${section}] ${key}`)
    .join('\n');
  program.addHelpText(
    'after',
    `\nEnvironment (overrides the config file):\n  GASP_CONFIG                default config file\n${envHelp}`,
  );
  return program;
}

/** Every command that runs something takes --log-level after its name too. */
function addLogLevelToLeaves(command: Command): void {
  for (const sub of command.commands) {
    if (sub.commands.length > 0) addLogLevelToLeaves(sub);
    else if (sub.name() !== 'help') sub.addOption(logLevelOption());
  }
}

/** Runs the command line; returns the exit code. Errors are one clear line each, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  // `gasp … | head` closes the pipe early: that is the reader being done, not an error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    // a command that passes on another program's exit code (lock-run) sets it
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander has printed the message already
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    )
      return 0;
    return 2;
  }
  if (error instanceof GaspError) {
    process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`gasp: unexpected error: ${scrubCredentials(message)}\n`);
  if (process.env.GASP_DEBUG === '1' && error instanceof Error && error.stack !== undefined)
    process.stderr.write(`${error.stack}\n`);
  return 1;
}
