export interface Repeating {
  /** Stops, after the run in flight (if any) ends. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `ms`, one run at a time: the next is timed from the end of the last, so a slow
 * database never stacks writes that hold the same `_rev` (all but one would conflict). A task
 * that returns false ends the repeating. The timer never keeps the process alive.
 */
export function repeatEvery(ms: number, task: () => Promise<boolean>): Repeating {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = task().then((again) => {
        if (again) next();
      });
    }, ms);
    timer.unref();
  };
  next();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
