import type { WorkerLifecycle } from '../lifecycle/worker-lifecycle';
import { type Clock, type TimerHandle, withTimeout } from './clock';

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

/** How often a start's timeout looks whether Redis is reachable. */
const START_TICK_MS = 250;

/** What a start's timeout counts against. */
export interface StartBound {
  timeoutMs: number;
  /** Whether Redis answers now; time while it does not is not counted. */
  redisReady: () => boolean;
  /** Told once, the first time a tick finds Redis unreachable. */
  onWaitingForRedis?: () => void;
}

/**
 * start(), rejecting with a {@link StartTimeoutError} when not ready within
 * `timeoutMs` of time during which Redis was reachable. A start that lands
 * in a failover waits it out as a running worker does (SPEC §2: reconnect
 * and resume), instead of failing after the timeout — standalone, that was
 * exit 1 and a restarted process meeting the same failover. Redis is looked
 * at every START_TICK_MS, so the count is that precise.
 */
export function startWithin(
  clock: Clock,
  worker: WorkerLifecycle,
  onFailure: (error: Error) => void,
  bound: StartBound,
): Promise<void> {
  // A synchronous throw from start() is a failed start too.
  const starting = Promise.resolve().then(() => worker.start(onFailure));
  return new Promise<void>((resolve, reject) => {
    let counted = 0;
    let last = clock.now();
    let toldWaiting = false;
    let timer: TimerHandle | undefined;
    const tick = (): void => {
      const now = clock.now();
      if (bound.redisReady()) {
        counted += now - last;
      } else if (!toldWaiting) {
        toldWaiting = true;
        bound.onWaitingForRedis?.();
      }
      last = now;
      if (counted >= bound.timeoutMs) {
        timer = undefined;
        reject(new StartTimeoutError(`not ready within ${bound.timeoutMs}ms`));
        return;
      }
      timer = clock.setTimeout(tick, Math.min(START_TICK_MS, bound.timeoutMs - counted));
    };
    timer = clock.setTimeout(tick, Math.min(START_TICK_MS, Math.max(0, bound.timeoutMs)));
    const settled = (): void => {
      if (timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
      }
    };
    starting.finally(settled).then(resolve, reject);
  });
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
