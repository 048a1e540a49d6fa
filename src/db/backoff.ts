/** Bounded exponential backoff with jitter, for every call that may meet an outage. */
export interface RetryPolicy {
  /** Tries in all, the first included; Infinity for a long-running client that must outlive an outage. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

/** For commands a person waits on: about 15 s of trying before one clear error line. */
export const COMMAND_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 8_000 };

/** For the enqueue client: keep trying through an outage, at most a minute apart. */
export const CLIENT_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 1_000, maxMs: 60_000 };

/** The wait before try number `attempt + 1` (attempt counts from 1): half fixed, half random. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
