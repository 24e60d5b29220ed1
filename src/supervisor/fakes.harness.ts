import type { WorkerName } from '../config';
import type { WorkerLifecycle, WorkerProbe } from '../lifecycle/worker-lifecycle';
import type { Clock, TimerHandle } from './clock';

// The fake clock and fake worker of supervisor.harness.ts.

/** Timers that fire only when the test advances time. */
export class FakeClock implements Clock {
  private time = 1_700_000_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.time + Math.max(0, ms), callback });
    return this.seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = [...this.timers.entries()]
        .filter(([, t]) => t.at <= target)
        .sort(([a, ta], [b, tb]) => ta.at - tb.at || a - b)[0];
      if (!next) {
        break;
      }
      const [id, timer] = next;
      this.timers.delete(id);
      this.time = timer.at;
      timer.callback();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

/** Lets every pending promise continuation run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
  fail: (error: Error) => void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

type StartMode = 'ready' | 'gated' | 'reject' | 'never';
/** 'deadline': drains for its whole budget, resolving exactly at the deadline it is given. */
type StopMode = 'ready' | 'gated' | 'never' | 'deadline';

export class FakeWorker implements WorkerLifecycle {
  starts = 0;
  stops = 0;
  readingStops = 0;
  /** The deadline passed to each stop() call. */
  stopDeadlines: number[] = [];
  startMode: StartMode = 'ready';
  stopMode: StopMode = 'ready';
  startGates: Gate[] = [];
  stopGates: Gate[] = [];
  healthy = true;
  /** Unhealthy only because its own Redis connection is reconnecting. */
  waitingForRedis = false;
  private onFailure: ((error: Error) => void) | undefined;

  constructor(
    readonly name: WorkerName,
    readonly dependsOn: WorkerName[],
    private readonly journal: string[],
    private readonly clock: FakeClock,
  ) {}

  start(onFailure: (error: Error) => void): Promise<void> {
    this.starts += 1;
    this.onFailure = onFailure;
    this.journal.push(`start ${this.name}`);
    switch (this.startMode) {
      case 'ready':
        return Promise.resolve();
      case 'reject':
        return Promise.reject(new Error(`cannot start ${this.name}`));
      case 'never':
        return new Promise(() => undefined);
      case 'gated': {
        const g = gate();
        this.startGates.push(g);
        return g.promise;
      }
    }
  }

  stopReading(): void {
    this.readingStops += 1;
    this.journal.push(`stopReading ${this.name}`);
  }

  stop(deadline: number): Promise<void> {
    this.stops += 1;
    this.stopDeadlines.push(deadline);
    this.journal.push(`stop ${this.name}`);
    switch (this.stopMode) {
      case 'ready':
        this.journal.push(`stopped ${this.name}`);
        return Promise.resolve();
      case 'never':
        return new Promise(() => undefined);
      case 'deadline':
        return new Promise((resolve) => {
          this.clock.setTimeout(() => {
            this.journal.push(`stopped ${this.name}`);
            resolve();
          }, deadline - this.clock.now());
        });
      case 'gated': {
        const g = gate();
        this.stopGates.push(g);
        return g.promise.then(() => {
          this.journal.push(`stopped ${this.name}`);
        });
      }
    }
  }

  health(): WorkerProbe {
    return {
      healthy: this.healthy,
      ...(this.healthy
        ? {}
        : this.waitingForRedis
          ? { reason: 'redis connection down', waitingForRedis: true }
          : { reason: 'read loop has not polled for 40000ms' }),
      inFlight: 2,
      processed: 7,
      failed: 1,
      deadLettered: 0,
      lastLoopAt: 1_700_000_000_000,
    };
  }

  /** The run loop dies on its own. */
  crash(message = 'run loop died'): void {
    this.onFailure?.(new Error(message));
  }
}
