import type { Command } from 'commander';
import { couchFromConfig } from '../db/couch.js';
import { ServerClock } from '../db/clock.js';
import { describeSwitchOver, removeOldClients, switchOverState } from '../shifter/switch-over.js';
import { configOption, loadCommandConfig, modeOption, print, type ConfigOptions } from './context.js';

interface SwitchOverOptions extends ConfigOptions {
  yes?: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerSwitchOver(program: Command): void {
  program
    .command('switch-over')
    .description(
      "what stands between a GASP database and gasp enqueue (GASP's enqueue_command documents, passes its clients hold); --yes removes GASP's documents once its clients are stopped",
    )
    .option(
      '--yes',
      "remove GASP's enqueue_leader, enqueue_sites and heartbeat documents (refused while they are fresh)",
    )
    .option('--force', 'remove them even while a heartbeat is fresh or an old client holds passes')
    .option('--json', 'print the state as JSON')
    .addOption(configOption())
    .addOption(modeOption())
    .addHelpText(
      'after',
      `
gasp enqueue does not start while the database holds GASP's enqueue_command documents: both clients
would submit the same passes. Drain GASP's clients (gasp_client.py --mononly) and stop its
enqueue_command at every site, then run this with --yes. README: Switching from GASP.

Examples:
  gasp switch-over -c config/production.cfg
  gasp switch-over -c config/production.cfg --yes`,
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<SwitchOverOptions>();
      const { config, log } = loadCommandConfig(options);
      const couch = couchFromConfig(config.couchdb, { log });
      const db = couch.use(config.couchdb.database);
      const clock = new ServerClock(couch);
      await clock.sync();
      const state = await switchOverState(db, clock.now());
      const removal =
        options.yes === true ? await removeOldClients(db, state, { force: options.force === true }) : undefined;
      if (options.json === true) {
        print(JSON.stringify({ ...state, ...(removal !== undefined && { removal }) }, null, 2));
      } else {
        for (const line of describeSwitchOver(state)) print(line);
        if (removal?.refused !== undefined) print(`switch-over: nothing removed: ${removal.refused}`);
        else if (removal?.left !== undefined)
          print(
            `switch-over: removed ${removal.removed.join(', ') || 'nothing'}; not removed: ${removal.left.join(', ')}: an old client wrote meanwhile, so it still runs; stop it and run this again`,
          );
        else if (removal !== undefined && removal.removed.length > 0)
          print(`switch-over: removed ${removal.removed.join(', ')}; recorded in the audit: gasp enqueue may start`);
        else if (state.old !== undefined) print("nothing changed: add --yes to remove GASP's documents");
      }
      const blocked =
        state.old !== undefined &&
        (removal === undefined || removal.refused !== undefined || removal.left !== undefined);
      const newLeft = Object.values(state.oldStatuses).some((count) => count > 0);
      // 1 while anything is left to do (each ✗ says what), so a script can wait for 0
      if (blocked || state.heldByOld > 0 || newLeft) process.exitCode = 1;
    });
}
