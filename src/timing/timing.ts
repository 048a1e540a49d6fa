import type { JobDoc, Pass, Subjob } from '../model/documents.js';

/** One ended job (subjob) of a pass, with what its record says of its time. */
export interface JobTime {
  module: string;
  run: number;
  pass: number;
  subjob: number;
  site: string;
  status: 'completed' | 'failed';
  exitCode: number | null;
  /** Seconds it ran: the wrapper's own start and end, else submission to the end the client saw. */
  wallSeconds: number | null;
  events: number | null;
  /** From the claim to the start of the run, in seconds; null without the wrapper's start. */
  queueSeconds: number | null;
}

const seconds = (from: string | undefined, to: string | undefined) =>
  from === undefined || to === undefined ? null : Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** The events one subjob was asked for: its own count, else the pass's events shared among its subjobs. */
function eventsOf(pass: Pass, subjob: Subjob, subjobs: number): number | null {
  if (subjob.events !== undefined) return subjob.events;
  const events = pass.amount?.events;
  return events === undefined || subjobs === 0 ? null : events / subjobs;
}

/** Every ended job of these passes' last attempts. */
export function jobTimes(passes: ReadonlyArray<{ doc: JobDoc; pass: Pass }>): JobTime[] {
  const times: JobTime[] = [];
  for (const { doc, pass } of passes) {
    const attempt = pass.attempts.at(-1);
    const subjobs = pass.subjobs ?? [];
    for (const subjob of subjobs) {
      if (subjob.state !== 'completed' && subjob.state !== 'failed') continue;
      times.push({
        module: doc.module,
        run: doc.run,
        pass: pass.pass,
        subjob: subjob.index,
        site: pass.site ?? attempt?.site ?? '-',
        status: subjob.state,
        exitCode: subjob.exit_code ?? null,
        wallSeconds:
          subjob.ran !== undefined
            ? seconds(subjob.ran.started, subjob.ran.finished)
            : seconds(subjob.started, subjob.finished),
        events: eventsOf(pass, subjob, subjobs.length),
        queueSeconds: subjob.ran === undefined ? null : seconds(attempt?.started ?? subjob.started, subjob.ran.started),
      });
    }
  }
  return times;
}

export interface Spread {
  n: number;
  mean: number;
  median: number;
  p90: number;
  max: number;
}

export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  // an even count has two middle values: the median is their mean, not the larger
  const half = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? at(0.5) : ((sorted[half - 1] ?? 0) + (sorted[half] ?? 0)) / 2;
  return {
    n: sorted.length,
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    median,
    p90: at(0.9),
    max: sorted.at(-1) ?? 0,
  };
}

/** One line of the timing table: a module at a site. */
export interface TimingRow {
  module: string;
  site: string;
  jobs: number;
  failed: number;
  wall: Spread | null;
  perEvent: Spread | null;
  queue: Spread | null;
  /** Failures by exit code: "20" → 3. */
  exitCodes: Record<string, number>;
}

/** The table: per module and site, from completed jobs' times; failures counted by exit code. */
export function timingTable(times: readonly JobTime[]): TimingRow[] {
  const groups = new Map<string, JobTime[]>();
  for (const time of times) {
    const key = `${time.module}\u0000${time.site}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [time]);
    else group.push(time);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, group]) => {
      const done = group.filter((time) => time.status === 'completed');
      const exitCodes: Record<string, number> = {};
      for (const time of group)
        if (time.status === 'failed')
          exitCodes[String(time.exitCode ?? 'none')] = (exitCodes[String(time.exitCode ?? 'none')] ?? 0) + 1;
      const first = group[0];
      return {
        module: first?.module ?? '-',
        site: first?.site ?? '-',
        jobs: group.length,
        failed: group.length - done.length,
        wall: spread(done.flatMap((time) => (time.wallSeconds === null ? [] : [time.wallSeconds]))),
        perEvent: spread(
          done.flatMap((time) =>
            time.wallSeconds === null || time.events === null || time.events <= 0
              ? []
              : [time.wallSeconds / time.events],
          ),
        ),
        queue: spread(group.flatMap((time) => (time.queueSeconds === null ? [] : [time.queueSeconds]))),
        exitCodes,
      };
    });
}
