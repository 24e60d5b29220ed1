import { HandlerTimeoutError } from './contracts';
import { type Task, abortTask } from './task';

/**
 * The entries in flight, one Task each, keyed by stream and id. Owns the
 * slots (concurrency is a hard bound: a slot is freed only when its
 * handler has settled, even past its timeout), the waiters for a free slot,
 * the in-flight gauge and the handler timeout sweep.
 */
export class TaskTable {
  private readonly tasks = new Map<string, Task>();
  private waiters: Array<() => void> = [];
  private gaugeUpdateQueued = false;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly handlerTimeoutMs: number,
    /** The worker's in-flight gauge, bound to its labels. */
    private readonly gauge: { set(value: number): void },
  ) {}

  get size(): number {
    return this.tasks.size;
  }

  get freeSlots(): number {
    return this.concurrency - this.tasks.size;
  }

  has(key: string): boolean {
    return this.tasks.has(key);
  }

  values(): IterableIterator<Task> {
    return this.tasks.values();
  }

  /** Handlers past their timeout that have not settled yet. */
  get overdue(): number {
    let count = 0;
    for (const task of this.tasks.values()) {
      if (task.timedOut) {
        count += 1;
      }
    }
    return count;
  }

  /** Takes a slot for the task. */
  add(task: Task): void {
    this.tasks.set(task.key, task);
    this.queueGaugeUpdate();
  }

  /** Frees the entry's slot: the one place a task leaves the table. */
  release(task: Task): void {
    this.tasks.delete(task.key);
    this.queueGaugeUpdate();
    this.wake();
  }

  /** Resolves when a slot may have come free, after `timeoutMs`, or once `signal` aborts. */
  waitForSlot(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        // Woken by its timer or the signal: leave no waiter behind, or a loop
        // whose slots all stay taken would add one per wait until one frees.
        const index = this.waiters.indexOf(done);
        if (index >= 0) {
          this.waiters.splice(index, 1);
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes everything waiting for a slot. */
  wake(): void {
    if (this.waiters.length === 0) {
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) {
      wake();
    }
  }

  /** Resolves once no task is left, or at `deadline` (epoch ms). */
  async waitUntilEmpty(deadline: number): Promise<void> {
    while (this.tasks.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }

  /**
   * One sweep per consumer instead of a timer and a Promise.race per entry,
   * which were a measurable share of the hot path. A handler timeout thus
   * fires up to one sweep period (a quarter of the timeout, at most 1 s) late.
   */
  startSweep(): void {
    const periodMs = Math.max(10, Math.min(Math.floor(this.handlerTimeoutMs / 4), 1000));
    this.sweepTimer = setInterval(() => this.expireOverdue(), periodMs);
    this.sweepTimer.unref();
  }

  stopSweep(): void {
    clearInterval(this.sweepTimer);
  }

  /** Sets the gauge to 0 for good, once the consumer has stopped. */
  zeroGauge(): void {
    this.gauge.set(0);
  }

  /** Fails every handler past its timeout. */
  private expireOverdue(): void {
    const startedBefore = Date.now() - this.handlerTimeoutMs;
    for (const task of this.tasks.values()) {
      if (
        task.expire !== undefined &&
        !task.timedOut &&
        task.handlerStartedAt !== undefined &&
        task.handlerStartedAt <= startedBefore
      ) {
        const error = new HandlerTimeoutError(
          `handler did not finish within ${this.handlerTimeoutMs}ms`,
        );
        task.timedOut = true;
        const expire = task.expire;
        task.expire = undefined;
        abortTask(task, error);
        expire(error);
      }
    }
  }

  /** The in-flight gauge is set once per event-loop turn, not twice per entry. */
  private queueGaugeUpdate(): void {
    if (this.gaugeUpdateQueued) {
      return;
    }
    this.gaugeUpdateQueued = true;
    setImmediate(() => {
      this.gaugeUpdateQueued = false;
      this.gauge.set(this.tasks.size);
    });
  }
}
