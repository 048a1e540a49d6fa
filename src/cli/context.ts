import { Option } from 'commander';
import { defaultConfigFile, loadConfig, MODES, type Config, type Mode } from '../config/config.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log.js';

/** Options every command shares (declared on the program, read with optsWithGlobals). */
export interface GlobalOptions {
  logLevel?: LogLevel;
}

export interface ConfigOptions extends GlobalOptions {
  config?: string;
  mode?: Mode;
}

export const logLevelOption = () =>
  new Option('--log-level <level>', 'how much to log (default: the config file, else info)').choices(LOG_LEVELS);

export const configOption = () =>
  new Option('-c, --config <file>', 'config file (default: $GASP_CONFIG, else config/<mode>.cfg)');

export const modeOption = () =>
  new Option('--mode <mode>', 'production or processing (default: the config file)').choices(MODES);

/** Writes a line of a command's own output; logs go to stderr. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function loggerFor(options: GlobalOptions, config?: Config): Logger {
  return createLogger({ level: options.logLevel ?? config?.logging.level ?? 'info' });
}

/** Loads the config a command was pointed at and logs its warnings. */
export function loadCommandConfig(options: ConfigOptions): { config: Config; log: Logger } {
  const file = options.config ?? defaultConfigFile(options.mode ?? 'production');
  // only the default file may be absent: a file the user named must exist
  const missingIsEmpty = options.config === undefined && process.env.GASP_CONFIG === undefined;
  const config = loadConfig(file, { missingIsEmpty, ...(options.mode !== undefined && { mode: options.mode }) });
  const log = loggerFor(options, config);
  for (const warning of config.warnings) log.warn(warning);
  return { config, log };
}
