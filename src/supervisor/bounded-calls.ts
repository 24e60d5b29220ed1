import type { WorkerLifecycle } from '../lifecycle/worker-lifecycle';
import { type Clock, withTimeout } from './clock';

export class StartTimeoutError extends Error {
  override readonly name = 'StartTimeoutError';
}

class StopTimeoutError extends Error {
  override readonly name = 'StopTimeoutError';
}

/**
 * How much earlier than the supervisor's own bound a worker is asked to have
 * stopped: at most this, and at most a tenth of the time left. A worker that
 * uses its whole budget then still resolves before the bound, so only a
 * worker that really overruns is reported as a stop timeout.
 */
const STOP_MARGIN_MS = 500;

/** start(), rejecting with a {@link StartTimeoutError} when not ready within `timeoutMs`. */
export function startWithin(
  clock: Clock,
  worker: WorkerLifecycle,
  onFailure: (error: Error) => void,
  timeoutMs: number,
): Promise<void> {
  return withTimeout(
    clock,
    // A synchronous throw from start() is a failed start too.
    Promise.resolve().then(() => worker.start(onFailure)),
    timeoutMs,
    () => new StartTimeoutError(`not ready within ${timeoutMs}ms`),
  );
}

/** Why a bounded stop did not end cleanly; undefined when it did. */
export type StopFault = { kind: 'stop_timeout' | 'stop_failed'; error: Error } | undefined;

/**
 * stop(), but never waits past `deadline` even if the worker ignores it.
 * The worker is given a slightly earlier deadline (see STOP_MARGIN_MS), so
 * one that drains for its whole budget is not mistaken for one that hangs.
 */
export async function stopWithin(
  clock: Clock,
  worker: WorkerLifecycle,
  deadline: number,
): Promise<StopFault> {
  const left = Math.max(0, deadline - clock.now());
  const workerDeadline = deadline - Math.min(STOP_MARGIN_MS, Math.floor(left / 10));
  try {
    await withTimeout(
      clock,
      Promise.resolve().then(() => worker.stop(workerDeadline)),
      left,
      () => new StopTimeoutError('did not stop by its deadline'),
    );
    return undefined;
  } catch (error) {
    return {
      kind: error instanceof StopTimeoutError ? 'stop_timeout' : 'stop_failed',
      error: toError(error),
    };
  }
}

export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
