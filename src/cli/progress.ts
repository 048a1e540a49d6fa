import cliProgress from 'cli-progress';

/** A progress bar on a terminal (stderr); elsewhere nothing, and the command prints a summary line. */
export function progressBar(what: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${what} [{bar}] {value}/{total} {percentage}% ({eta}s left)`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
