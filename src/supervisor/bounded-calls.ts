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

/** What bounds a start. */
export interface StartBound {
  /** Time the start may take while Redis is reachable (WORKER_START_TIMEOUT_MS). */
  timeoutMs: number;
  /** Time it may spend, in all, waiting for an unreachable Redis (STARTUP_TIMEOUT_MS). */
  redisWaitMs: number;
  /** Whether the worker's Redis connections are up now (not whether Redis answers quickly). */
  redisReady: () => boolean;
  /** True once shutdown began: the start is abandoned and the ticking stops. */
  stopping: () => boolean;
  /** Told once, the first time a tick finds Redis unreachable. */
  onWaitingForRedis?: () => void;
}

/**
 * start(), bounded by `timeoutMs` of time during which Redis was reachable,
 * and by `redisWaitMs` of waiting for it. A start that lands in a failover
 * waits it out as a running worker does (SPEC §2: reconnect and resume);
 * before, it failed after the start timeout, which standalone meant exit 1
 * and a new process meeting the same failover. An outage longer than
 * `redisWaitMs` still fails it, as Redis unreachable at startup does (SPEC
 * §2: STARTUP_TIMEOUT_MS, then exit 1). Redis is looked at every
 * START_TICK_MS, so the counts are that precise. Resolves with the time
 * spent waiting for Redis.
 */
export function startWithin(
  clock: Clock,
  worker: WorkerLifecycle,
  onFailure: (error: Error) => void,
  bound: StartBound,
): Promise<number> {
  // A synchronous throw from start() is a failed start too.
  const starting = Promise.resolve().then(() => worker.start(onFailure));
  let timer: TimerHandle | undefined;
  let waited = 0;
  const bounded = new Promise<never>((_, reject) => {
    let counted = 0;
    let last = clock.now();
    const tick = (): void => {
      timer = undefined;
      const now = clock.now();
      if (bound.stopping()) {
        // The shutdown owns the worker now; ticking on would keep the process alive.
        reject(new StartTimeoutError('start abandoned: shutting down'));
        return;
      }
      if (bound.redisReady()) {
        counted += now - last;
      } else {
        if (waited === 0) {
          bound.onWaitingForRedis?.();
        }
        waited += now - last;
      }
      last = now;
      if (counted >= bound.timeoutMs) {
        reject(new StartTimeoutError(`not ready within ${bound.timeoutMs}ms`));
      } else if (waited > bound.redisWaitMs) {
        reject(
          new StartTimeoutError(
            `Redis unreachable for ${waited}ms while starting (STARTUP_TIMEOUT_MS ${bound.redisWaitMs}ms)`,
          ),
        );
      } else {
        timer = clock.setTimeout(tick, Math.min(START_TICK_MS, bound.timeoutMs - counted));
      }
    };
    timer = clock.setTimeout(tick, Math.min(START_TICK_MS, Math.max(0, bound.timeoutMs)));
  });
  return Promise.race([starting.then(() => waited), bounded]).finally(() => {
    if (timer !== undefined) {
      clock.clearTimeout(timer);
    }
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
