/** Retrying with backoff, for the worker's calls to servers that may be away for a while. */
import type { Logger } from 'pino';

/**
 * Run `fn` until it succeeds, waiting 100 ms, then twice as long each time up to 5 s. Once
 * `stopped()` is true a failure is thrown instead of retried.
 */
export async function retrying<T>(what: string, log: Logger, fn: () => Promise<T>, stopped: () => boolean): Promise<T> {
  for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await fn();
    } catch (err) {
      if (stopped()) throw err;
      log.warn({ err: String(err) }, `${what} failed; retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
