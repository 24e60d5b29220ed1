import type { WorkerName } from '../config';
import type { WorkerLifecycle, WorkerProbe, WorkerState } from '../lifecycle/worker-lifecycle';
import { redactText } from '../logging/redact';
import { StartTimeoutError, startWithin, stopWithin, toError } from './bounded-calls';
import type { SupervisorContext } from './supervisor-context';

/** What a start reports to whoever decides about failures ({@link WorkerRecovery}). */
export interface StartEvents {
  /** It reached `running`. */
  running(): void;
  /** start() failed or timed out; the start settles once this has been handled. */
  startFailed(error: Error, kind: 'start_failed' | 'start_timeout'): Promise<void>;
  /**
   * Its run loop died on its own while running: whatever the worker reports
   * through start()'s onFailure, handled like any crash. A late report from
   * an earlier run, or one during shutdown, never arrives here.
   */
  crashed(error: Error): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * One worker's state machine (`starting | running | restarting | draining |
 * stopped | failed`, each change logged once) and the calls into it, each
 * bounded in time, a throw from the worker reported rather than raised:
 * start, stop reading, stop, drain, probe.
 * What to do after a failure is {@link WorkerRecovery}'s.
 */
export class WorkerSlot {
  readonly name: WorkerName;
  private current: WorkerState = 'stopped';
  /** Restarts performed since the process started (printery_worker_restarts_total). */
  private restartCount = 0;
  private since: number | undefined;
  private lastErrorText: string | null = null;
  /** Bumped on every start() call, so a late onFailure from an earlier run is ignored. */
  private generationCount = 0;
  /** start() was called and the matching stop() has not finished. */
  private live = false;
  /** Resolves true once the worker first runs; false when it never will (gave up, shutdown). */
  private readonly ready = deferred<boolean>();

  constructor(
    private readonly worker: WorkerLifecycle,
    private readonly ctx: SupervisorContext,
  ) {
    this.name = worker.name;
    ctx.metrics.track(this.name);
  }

  get state(): WorkerState {
    return this.current;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Epoch ms it last became running; undefined while it is not running. */
  get runningSince(): number | undefined {
    return this.since;
  }

  get lastError(): string | null {
    return this.lastErrorText;
  }

  /** start() was called and the matching stop() has not finished. */
  get isLive(): boolean {
    return this.live;
  }

  /** Which start() call this is; one failure is handled per start. */
  get generation(): number {
    return this.generationCount;
  }

  /** Resolves true once the worker first runs; false when it never will (gave up, shutdown). */
  whenReady(): Promise<boolean> {
    return this.ready.promise;
  }

  /** Nothing will wait for it to run any more (shutdown began). */
  abandonReadiness(): void {
    this.ready.resolve(false);
  }

  /** One start() call, bounded by the start timeout. */
  async start(reason: 'bootstrap' | 'restart', events: StartEvents): Promise<void> {
    const { clock } = this.ctx;
    const generation = ++this.generationCount;
    if (this.current !== 'restarting') {
      this.transition('starting', reason);
    }
    this.live = true;
    const startedAt = clock.now();
    const { settings } = this.ctx;
    let waitedForRedisMs = 0;
    const onFailure = (error: Error): void => {
      if (
        generation === this.generationCount &&
        this.current === 'running' &&
        !this.ctx.stopping()
      ) {
        events.crashed(error);
      }
    };
    try {
      waitedForRedisMs = await startWithin(clock, this.worker, onFailure, {
        timeoutMs: settings.startTimeoutMs,
        redisWaitMs: this.ctx.startRedisWaitMs,
        // The service's connection, and the worker's own (a Cluster client
        // stays ready while the master of one slot fails over).
        redisReady: () => this.ctx.redisReady() && this.probe().waitingForRedis !== true,
        stopping: () => this.ctx.stopping(),
        onWaitingForRedis: () =>
          this.ctx.logger.warn(
            {
              event: 'worker.start_waiting_for_redis',
              worker: this.name,
              startTimeoutMs: settings.startTimeoutMs,
              redisWaitMs: this.ctx.startRedisWaitMs,
            },
            'Redis is unreachable while the worker starts: waiting for it (up to STARTUP_TIMEOUT_MS), not counted against WORKER_START_TIMEOUT_MS',
          ),
      });
    } catch (error) {
      if (this.ctx.stopping()) {
        return;
      }
      const kind = error instanceof StartTimeoutError ? 'start_timeout' : 'start_failed';
      await events.startFailed(toError(error), kind);
      return;
    }
    if (this.ctx.stopping() || generation !== this.generationCount) {
      // Shutdown began while it was starting; the shutdown sequence owns it now.
      return;
    }
    this.since = clock.now();
    this.transition('running', reason, {
      startMs: clock.now() - startedAt,
      ...(waitedForRedisMs > 0 ? { waitedForRedisMs } : {}),
    });
    this.ctx.metrics.setUp(this.name, true);
    this.ready.resolve(true);
    events.running();
  }

  /** Its run ended in a failure: no longer running nor up, and `reason` is its last error. */
  wentDown(reason: string): void {
    this.lastErrorText = reason;
    this.since = undefined;
    this.ctx.metrics.setUp(this.name, false);
  }

  /** Failed for good (standalone, gave up, or its dependencies will not run). */
  fail(reason: string, extra: Record<string, unknown> = {}): void {
    this.lastErrorText = reason;
    this.transition('failed', reason, extra);
    this.ready.resolve(false);
  }

  /** A restart is scheduled; logged on every attempt, not only the first. */
  restarting(reason: string, extra: Record<string, unknown>): void {
    this.transition('restarting', reason, extra, true);
  }

  countRestart(): void {
    this.restartCount += 1;
    this.ctx.metrics.restarted(this.name);
  }

  /** Stops it taking new work, without waiting; a throw is logged and counted, not raised. */
  stopReading(): void {
    try {
      this.worker.stopReading();
    } catch (error) {
      // The drain's stop() that follows stops reading too; carry on.
      this.ctx.metrics.error(this.name, 'stop_failed');
      this.ctx.logger.warn(
        {
          event: 'worker.stop_reading_failed',
          worker: this.name,
          reason: redactText(toError(error).message),
        },
        'worker could not stop reading; its drain will stop it',
      );
    }
  }

  /** stop() within `deadline`; a stop that fails or overruns is logged, counted and abandoned. */
  async stop(deadline: number): Promise<void> {
    const fault = await stopWithin(this.ctx.clock, this.worker, deadline);
    this.live = false;
    if (fault) {
      this.ctx.metrics.error(this.name, fault.kind);
      this.ctx.logger.warn(
        {
          event: `worker.${fault.kind}`,
          worker: this.name,
          reason: redactText(fault.error.message),
        },
        'worker did not stop cleanly; abandoning it',
      );
    }
  }

  /** The shutdown step for this worker: drain it by `deadline`, then stopped (or still failed). */
  async drain(deadline: number): Promise<void> {
    const { clock, logger } = this.ctx;
    const finalState: WorkerState = this.current === 'failed' ? 'failed' : 'stopped';
    if (!this.live) {
      this.transition(finalState, 'shutdown');
      return;
    }
    const startedAt = clock.now();
    if (finalState !== 'failed') {
      this.transition('draining', 'shutdown', { timeoutMs: Math.max(0, deadline - startedAt) });
    }
    await this.stop(deadline);
    this.since = undefined;
    this.ctx.metrics.setUp(this.name, false);
    const drainMs = clock.now() - startedAt;
    if (finalState === 'failed') {
      // Its failure was already logged; this is only the shutdown step.
      logger.info(
        { event: 'worker.drained', worker: this.name, state: 'failed', drainMs },
        'failed worker stopped',
      );
    } else {
      this.transition('stopped', 'shutdown', { drainMs });
    }
  }

  /** The worker's own snapshot; a probe that throws reads as unhealthy. */
  probe(): WorkerProbe {
    try {
      return this.worker.health();
    } catch (error) {
      return {
        healthy: false,
        reason: `health probe threw: ${redactText(toError(error).message)}`,
        inFlight: 0,
        processed: 0,
        failed: 0,
        deadLettered: 0,
      };
    }
  }

  /** Sets the state and logs the transition once, with the worker and why. */
  private transition(
    state: WorkerState,
    reason: string,
    extra: Record<string, unknown> = {},
    logRepeat = false,
  ): void {
    if (this.current === state && !logRepeat) {
      return;
    }
    const from = this.current;
    this.current = state;
    const fields = { event: `worker.${state}`, worker: this.name, from, reason, ...extra };
    switch (state) {
      case 'failed':
        this.ctx.logger.error(fields, 'worker failed');
        break;
      case 'restarting':
        this.ctx.logger.warn(fields, 'worker restarting');
        break;
      case 'starting':
      case 'running':
      case 'draining':
      case 'stopped':
        this.ctx.logger.info(fields, 'worker state changed');
        break;
    }
  }
}
