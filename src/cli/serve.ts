import type { Command } from 'commander';
import { compactDatabases } from '../db/compact.js';
import { Couch } from '../db/couch.js';
import { loadDesignDocs } from '../db/design-docs.js';
import { ViewTally } from '../db/tally.js';
import { describePushes, setUpDatabases, STANDARD_DATABASES } from '../db/setup.js';
import { InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { BUNDLED_VIEWS } from '../paths.js';
import { EmbeddedServer, StartAborted } from '../server/embedded.js';
import { stopOnSignal, type SignalStop } from '../signals.js';
import { loggerFor, print, type GlobalOptions } from './context.js';
import { positiveNumber } from './numbers.js';

interface ServeOptions extends GlobalOptions {
  port: string;
  dir: string;
  compactHours: string;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new InputError([`--port: "${text}" is not a port (expected a whole number from 0 to 65535)`]);
  return port;
}

/**
 * Starts the embedded server, creates both databases and pushes the views into them. A signal
 * during start-up (see `stopOnSignal`) stops what has started and throws StartAborted.
 */
export async function startPreparedServer(
  dir: string,
  port: number,
  log: Logger,
  stop: SignalStop,
): Promise<EmbeddedServer> {
  const designDocs = loadDesignDocs(BUNDLED_VIEWS);
  const server = await EmbeddedServer.start({ dir, port, log, signal: stop.signal });
  stop.onForce(() => server.killNow());
  try {
    const setups = await setUpDatabases(
      new Couch({ url: server.url, log, signal: stop.signal }),
      STANDARD_DATABASES,
      designDocs,
    );
    if (stop.signal.aborted) throw new StartAborted('stopped before the embedded database was ready');
    for (const setup of setups) {
      print(
        `${setup.database}: ${setup.created ? 'created' : 'found'}; design documents ${describePushes(setup.designDocs)}`,
      );
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** Tallies of every `_sum` view of the summary design document in both databases (see db/tally.ts): gasp summary and the dashboard answer at once at any size. */
export function startSummaryTallies(couch: Couch, log: Logger): ViewTally[] {
  const views = Object.entries(
    loadDesignDocs(BUNDLED_VIEWS).find((doc) => doc._id === '_design/summary')?.views ?? {},
  ).filter(([, source]) => source.reduce === '_sum');
  return STANDARD_DATABASES.flatMap((name) =>
    views.map(([view, source]) => {
      const tally = new ViewTally(couch.use(name), 'summary', view, source.map, log);
      tally.start();
      return tally;
    }),
  );
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the embedded CouchDB-compatible server (PouchDB Server) on 127.0.0.1, with both databases and the views',
    )
    .option('-p, --port <port>', 'port to listen on (0: any free port)', '5984')
    .option('-d, --dir <folder>', 'folder for the database files', '.gasp/db')
    .option(
      '--compact-hours <hours>',
      'compact both databases and clean up old view indexes this often (0: never)',
      '24',
    )
    .addHelpText(
      'after',
      '\nWhile it runs it keeps a tally of each summary reduce view (_local/gasp-tally-summary-<view>), so gasp summary and gasp dashboard answer at once however large the databases.\n\nExample:\n  gasp serve --port 5984 --dir .gasp/db   # then url = http://127.0.0.1:5984 in config/*.cfg',
    )
    .action(async (_options: ServeOptions, command: Command) => {
      const options = command.optsWithGlobals<ServeOptions>();
      const port = parsePort(options.port);
      const problems: string[] = [];
      const compactHours =
        options.compactHours === '0' ? 0 : positiveNumber('--compact-hours', options.compactHours, problems);
      if (problems.length > 0) throw new InputError(problems);
      const log = loggerFor(options);
      const stop = stopOnSignal({ log });
      let server: EmbeddedServer;
      try {
        server = await startPreparedServer(options.dir, port, log, stop);
      } catch (error) {
        if (!(error instanceof StartAborted)) throw error;
        print('stopped before it was ready');
        return;
      }
      print(`serving ${server.url.origin} (data in ${server.dir}); Ctrl-C stops`);
      const tallies = startSummaryTallies(new Couch({ url: server.url, log }), log);
      const compaction =
        compactHours > 0
          ? setInterval(() => {
              compactDatabases(new Couch({ url: server.url, log }), STANDARD_DATABASES, log).catch((error: unknown) =>
                log.warn({ error: (error as Error).message }, 'compaction failed; trying again at the next one'),
              );
            }, compactHours * 3_600_000)
          : undefined;
      const signal = await stop.signalled;
      clearInterval(compaction);
      log.info({ signal }, 'stopping the embedded database');
      await Promise.all(tallies.map((tally) => tally.stop()));
      await server.stop();
      print('stopped');
    });
}
