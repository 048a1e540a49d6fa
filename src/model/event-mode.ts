/**
 * How a production module says how much to simulate, and the RAT arguments each mode implies.
 * The one copy of this table: make-production writes the mode, the job wrapper turns it into
 * arguments.
 *
 * - run: one detector run, reproduced run by run: `-r RUN`
 * - run_number: a number of events labelled with a run number: `-n RUN -N EVENTS`
 * - time: a span of live time, for generators with a rate: `-T SECONDS`
 * - number: a number of events: `-N EVENTS`
 */
export const EVENT_MODES = ['run', 'run_number', 'time', 'number'] as const;
export type EventMode = (typeof EVENT_MODES)[number];

export interface EventAmount {
  run?: number;
  events?: number;
  seconds?: number;
}

const NEEDS: Record<EventMode, Array<keyof EventAmount>> = {
  run: ['run'],
  run_number: ['run', 'events'],
  time: ['seconds'],
  number: ['events'],
};

/** RAT's command-line arguments for an amount in a mode; throws if the amount lacks what the mode needs. */
export function ratArguments(mode: EventMode, amount: EventAmount): string[] {
  const missing = NEEDS[mode].filter((key) => amount[key] === undefined);
  if (missing.length > 0) throw new RangeError(`event mode ${mode} needs ${missing.join(' and ')}`);
  const { run, events, seconds } = amount;
  switch (mode) {
    case 'run':
      return ['-r', String(run)];
    case 'run_number':
      return ['-n', String(run), '-N', String(events)];
    case 'time':
      return ['-T', String(seconds)];
    case 'number':
      return ['-N', String(events)];
  }
}
