import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Any field with one of these names is written as `***`, however deep a caller nests it. */
const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable lines; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  /** Where lines go; defaults to stderr, so stdout stays for a command's own output. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const wantPretty = options.pretty ?? process.stderr.isTTY === true;
  const destination =
    options.destination ??
    (wantPretty
      ? pretty({
          destination: 2,
          sync: true,
          colorize: true,
          ignore: 'pid,hostname,stats',
          translateTime: 'SYS:HH:MM:ss',
          singleLine: true,
        })
      : pino.destination({ fd: 2, sync: true }));
  return pino({ level: options.level ?? 'info', redact: { paths: REDACTED_PATHS, censor: '***' } }, destination);
}

/** A logger that drops everything, for library calls whose caller does not log. */
export const silentLogger: Logger = pino({ level: 'silent' });
