import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  lines: Array<{ level: number; msg: string } & Record<string, unknown>>;
  text(): string;
}

/** A real pino logger whose JSON lines are kept for the test to read. */
export function captureLog(level: 'debug' | 'info' = 'info'): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const raw: string[] = [];
  const log = createLogger({
    level,
    destination: {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as CapturedLog['lines'][number]);
      },
    },
  });
  return { log, lines, text: () => raw.join('') };
}

export const WARN = 40;
export const INFO = 30;
