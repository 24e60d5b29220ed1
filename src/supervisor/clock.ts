/** An opaque timer handle from a {@link Clock}. */
export type TimerHandle = object | number;

/**
 * Time as the supervisor sees it. Injected so unit tests drive backoffs,
 * start timeouts, health checks and stop deadlines with a fake clock instead
 * of sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Settles with `promise`, or rejects with `onTimeout()` once `ms` have passed
 * on `clock`. The timer is cleared either way.
 */
export function withTimeout<T>(
  clock: Clock,
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: TimerHandle;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    }),
  ]).finally(() => clock.clearTimeout(timer));
}
