import { StartupError } from '../errors/startup.error';
import type { ProcessLifecycle } from './process-lifecycle.service';

const INTERRUPTED = Symbol('interrupted');

/**
 * One attempt of a start-up step that waits on Redis, bounded two ways.
 * A reply can fail to come for good: a server that accepts connections and
 * never answers (a proxy in front of a gone backend, a hung server), or a
 * command lost in a Cluster failover (no reply, no error, no timer). Nest's
 * init waits on the step, and a shutdown request waits behind init, so
 * without a bound start-up hung and SIGTERM could not end it.
 *
 * Settles as `work` does; rejects with `timedOut(timeoutMs)` when it has
 * not settled by then (the caller retries, as for an unreachable Redis),
 * and with a StartupError, never retried, as soon as a shutdown is
 * requested.
 */
export async function startupAttempt<T>(
  work: Promise<T>,
  timeoutMs: number,
  lifecycle: ProcessLifecycle | undefined,
  timedOut: (timeoutMs: number) => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const interrupted = lifecycle?.requested.then(() => INTERRUPTED) ?? new Promise<never>(() => {});
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(timeoutMs)), Math.max(1, timeoutMs));
  });
  try {
    const outcome = await Promise.race([work, interrupted, expired]);
    if (outcome === INTERRUPTED) {
      throw new StartupError('startup interrupted by a shutdown request');
    }
    return outcome as T;
  } finally {
    clearTimeout(timer);
  }
}
