import type { Command } from 'commander';
import { Couch } from '../db/couch.js';
import { STANDARD_DATABASES } from '../db/setup.js';
import { loggerFor, print, type GlobalOptions } from './context.js';
import { startPreparedServer, untilSignalled } from './serve.js';

interface DemoOptions extends GlobalOptions {
  dir: string;
  keep?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole chain on the embedded database (what `npm start` runs)')
    .option('-d, --dir <folder>', 'folder for the demo database', '.gasp/demo')
    .option('--keep', 'keep the database running at the end, until Ctrl-C')
    .addHelpText('after', '\nExample:\n  npm start            # the same as: npx gasp demo\n  npx gasp demo --keep')
    .action(async (_options: DemoOptions, command: Command) => {
      const options = command.optsWithGlobals<DemoOptions>();
      const log = loggerFor(options);
      print(`starting the embedded database in ${options.dir}`);
      const server = await startPreparedServer(options.dir, 0, log);
      try {
        const couch = new Couch({ url: server.url, log });
        for (const name of STANDARD_DATABASES) {
          const counts = await couch.use(name).view<[string], number>('passes', 'by_status', { group_level: 1 });
          const summary = counts.rows.map((row) => `${row.key[0]} ${row.value}`).join(', ');
          print(`${name}: ${summary === '' ? 'no passes yet' : summary}`);
        }
        print(`the database is at ${server.url.origin}`);
        if (options.keep === true) {
          print('Ctrl-C stops it');
          await untilSignalled();
        }
      } finally {
        await server.stop();
      }
      print(`stopped; the data stays in ${server.dir} (npx gasp serve --dir ${options.dir} serves it again)`);
    });
}
