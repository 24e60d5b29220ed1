import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Counter, Gauge } from 'prom-client';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { APP_CONFIG, type AppConfig, type WorkerName } from '../config';
import { redactText } from '../logging/redact';
import { METRIC } from '../metrics/metric-names';
import { RedisService } from '../redis/redis.service';
import { restartBackoff } from './backoff';
import { CLOCK, type Clock, type TimerHandle, withTimeout } from './clock';
import { planWorkers } from './dependency-graph';
import {
  WORKERS,
  type WorkerLifecycle,
  type WorkerProbe,
  type WorkerState,
  type WorkerStatus,
} from '../lifecycle/worker-lifecycle';

/** Bounded `kind` label values of printery_worker_errors_total set by the supervisor. */
export type SupervisorErrorKind =
  | 'start_failed'
  | 'start_timeout'
  | 'crashed'
  | 'unhealthy'
  | 'gave_up'
  | 'stop_timeout'
  | 'stop_failed';

/** What the supervisor needs to know about Redis: whether the shared client is connected. */
export type RedisReadiness = Pick<RedisService, 'isReady'>;

/** Optional token for the backoff's random source (tests pin it). */
export const JITTER = Symbol('JITTER');

class StartTimeoutError extends Error {
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

interface Slot {
  worker: WorkerLifecycle;
  name: WorkerName;
  state: WorkerState;
  /** Restarts performed since the process started (printery_worker_restarts_total). */
  restarts: number;
  /** Consecutive restarts not followed by a stable period; decides the give-up. */
  attempts: number;
  runningSince: number | undefined;
  lastError: string | null;
  /** Bumped on every start() call, so a late onFailure from an earlier run is ignored. */
  generation: number;
  /** The generation whose failure is being (or was) handled; one failure per start. */
  failedGeneration: number;
  /** start() was called and the matching stop() has not finished. */
  live: boolean;
  /** Resolves true once the worker first runs; false when it never will (gave up, shutdown). */
  ready: Deferred<boolean>;
  /** The last health check found it unhealthy (logged once per episode). */
  unhealthy: boolean;
  restartTimer: TimerHandle | undefined;
  stableTimer: TimerHandle | undefined;
}

/**
 * The one place that knows every worker's state: starts the selected workers
 * in dependency order, watches their health, restarts them with backoff in
 * supervised mode (or asks the process to exit 1 in standalone mode), and
 * drains them in reverse order on shutdown. SPEC §3.
 */
@Injectable()
export class SupervisorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly slots = new Map<WorkerName, Slot>();
  private readonly dependencies: Map<WorkerName, WorkerName[]>;
  private readonly dependants: Map<WorkerName, WorkerName[]>;
  private stopRequested = false;
  private healthTimer: TimerHandle | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    @Inject(WORKERS) workers: WorkerLifecycle[],
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lifecycle: ProcessLifecycle,
    @InjectPinoLogger(SupervisorService.name) private readonly logger: PinoLogger,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(RedisService) private readonly redis: RedisReadiness,
    @InjectMetric(METRIC.workerUp) private readonly upGauge: Gauge,
    @InjectMetric(METRIC.workerRestarts) private readonly restartsCounter: Counter,
    @InjectMetric(METRIC.workerUptime) private readonly uptimeGauge: Gauge,
    @InjectMetric(METRIC.workerErrors) private readonly errorsCounter: Counter,
    @Optional() @Inject(JITTER) private readonly random: () => number = Math.random,
  ) {
    // Bad wiring fails here, before Redis is dialled or anything starts.
    const plan = planWorkers(workers, config.supervisor.workers);
    this.dependencies = plan.dependencies;
    this.dependants = plan.dependants;
    for (const worker of plan.order) {
      this.slots.set(worker.name, {
        worker,
        name: worker.name,
        state: 'stopped',
        restarts: 0,
        attempts: 0,
        runningSince: undefined,
        lastError: null,
        generation: 0,
        failedGeneration: 0,
        live: false,
        ready: deferred<boolean>(),
        unhealthy: false,
        restartTimer: undefined,
        stableTimer: undefined,
      });
      this.upGauge.set({ worker: worker.name }, 0);
      this.uptimeGauge.set({ worker: worker.name }, 0);
      this.restartsCounter.inc({ worker: worker.name }, 0);
    }
    // Scrapes read the live state rather than the last health tick.
    Object.assign(this.upGauge, { collect: () => this.refreshUp() });
    Object.assign(this.uptimeGauge, { collect: () => this.refreshUptime() });
  }

  /**
   * Kicks off the start and returns at once, so the HTTP endpoints listen
   * (liveness answers, readiness says 503) while workers start. The start
   * promise is tracked: anything unexpected in it is logged and ends the
   * process with exit 1 rather than disappearing.
   */
  onApplicationBootstrap(): void {
    this.logger.info(
      {
        event: 'supervisor.starting',
        workers: [...this.slots.keys()],
        mode: this.config.supervisor.supervised ? 'supervised' : 'standalone',
      },
      'starting workers',
    );
    this.starting = this.startAll().catch((error: unknown) => {
      this.logger.error({ event: 'supervisor.start_crashed', err: error }, 'supervisor crashed');
      this.lifecycle.requestShutdown('supervisor failed while starting workers', 1);
    });
    this.scheduleHealthCheck();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll(this.clock.now() + this.config.supervisor.shutdownTimeoutMs);
  }

  /** Settles when the initial start sequence has finished (successfully or not). */
  whenStarted(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  /** Readiness: every selected worker running and healthy, and no shutdown under way. */
  isReady(): boolean {
    return (
      !this.lifecycle.shuttingDown &&
      !this.stopRequested &&
      [...this.slots.values()].every((slot) => slot.state === 'running' && this.probe(slot).healthy)
    );
  }

  getStatus(): WorkerStatus[] {
    const now = this.clock.now();
    return [...this.slots.values()].map((slot) => {
      const probe = this.probe(slot);
      const state =
        this.lifecycle.shuttingDown && slot.state === 'running' ? 'draining' : slot.state;
      const healthy = state === 'running' && probe.healthy;
      return {
        name: slot.name,
        state,
        healthy,
        reason: healthy ? null : state === 'running' ? (probe.reason ?? 'unhealthy') : state,
        restarts: slot.restarts,
        uptimeSeconds:
          slot.runningSince === undefined ? 0 : Math.round((now - slot.runningSince) / 1000),
        lastError: slot.lastError,
        inFlight: probe.inFlight,
        processed: probe.processed,
        failed: probe.failed,
        deadLettered: probe.deadLettered,
        lastLoopAt:
          probe.lastLoopAt === undefined ? null : new Date(probe.lastLoopAt).toISOString(),
      };
    });
  }

  // ---- start ---------------------------------------------------------------

  private async startAll(): Promise<void> {
    await Promise.all([...this.slots.values()].map((slot) => this.launch(slot)));
  }

  /** Waits for the worker's selected dependencies to run, then starts it. */
  private async launch(slot: Slot): Promise<void> {
    const deps = (this.dependencies.get(slot.name) ?? []).map((name) => this.slot(name));
    const readiness = await Promise.all(deps.map((dep) => dep.ready.promise));
    if (this.stopRequested || this.lifecycle.shuttingDown) {
      return;
    }
    const notReady = deps.filter((_, i) => !readiness[i]).map((dep) => dep.name);
    if (notReady.length > 0) {
      slot.lastError = `dependency ${notReady.join(', ')} is not running`;
      this.transition(slot, 'failed', slot.lastError);
      slot.ready.resolve(false);
      return;
    }
    await this.attemptStart(slot, 'bootstrap');
  }

  /** One start() call, bounded by the start timeout. Failures go to {@link onFailure}. */
  private async attemptStart(slot: Slot, reason: string): Promise<void> {
    const generation = ++slot.generation;
    const startTimeoutMs = this.config.supervisor.startTimeoutMs;
    if (slot.state !== 'restarting') {
      this.transition(slot, 'starting', reason);
    }
    slot.live = true;
    const startedAt = this.clock.now();
    try {
      await withTimeout(
        this.clock,
        // A synchronous throw from start() is a failed start too.
        Promise.resolve().then(() =>
          slot.worker.start((error) => this.onRunFailure(slot, generation, error)),
        ),
        startTimeoutMs,
        () => new StartTimeoutError(`not ready within ${startTimeoutMs}ms`),
      );
    } catch (error) {
      if (this.stopRequested) {
        return;
      }
      const kind = error instanceof StartTimeoutError ? 'start_timeout' : 'start_failed';
      await this.onFailure(slot, toError(error), kind);
      return;
    }
    if (this.stopRequested || generation !== slot.generation) {
      // Shutdown began while it was starting; stopAll() owns it now.
      return;
    }
    slot.runningSince = this.clock.now();
    slot.unhealthy = false;
    this.transition(slot, 'running', reason, { startMs: this.clock.now() - startedAt });
    this.upGauge.set({ worker: slot.name }, 1);
    slot.ready.resolve(true);
    this.armStableTimer(slot);
  }

  // ---- failure and restart -------------------------------------------------

  private onRunFailure(slot: Slot, generation: number, error: Error): void {
    if (generation !== slot.generation || slot.state !== 'running' || this.stopRequested) {
      return;
    }
    this.handleFailure(slot, error, 'crashed');
  }

  /** Runs {@link onFailure} from a callback or timer without losing its errors. */
  private handleFailure(slot: Slot, error: Error, kind: SupervisorErrorKind): void {
    this.onFailure(slot, error, kind).catch((unexpected: unknown) => {
      this.logger.error(
        { event: 'supervisor.recovery_crashed', worker: slot.name, err: unexpected },
        'supervisor could not handle a worker failure',
      );
      this.lifecycle.requestShutdown(`supervisor could not recover worker ${slot.name}`, 1);
    });
  }

  /**
   * A start failed, the run loop died or the health check found the worker
   * unhealthy. Standalone: mark it failed and ask the process to drain and
   * exit 1. Supervised: stop it (bounded), then restart after backoff, or
   * give up after maxRestartAttempts consecutive failed restarts.
   */
  private async onFailure(slot: Slot, error: Error, kind: SupervisorErrorKind): Promise<void> {
    if (slot.failedGeneration === slot.generation) {
      // This start's failure is already being handled (e.g. a health tick or
      // the run loop's own report while the give-up stop is in progress).
      return;
    }
    slot.failedGeneration = slot.generation;
    const reason = redactText(error.message);
    slot.lastError = reason;
    slot.runningSince = undefined;
    this.clearTimer(slot, 'stableTimer');
    this.upGauge.set({ worker: slot.name }, 0);
    this.errorsCounter.inc({ worker: slot.name, kind });
    if (this.stopRequested) {
      return;
    }
    const { supervised, maxRestartAttempts, shutdownTimeoutMs } = this.config.supervisor;

    if (!supervised) {
      this.transition(slot, 'failed', reason, { kind });
      slot.ready.resolve(false);
      // The worker itself is stopped with the others by stopAll().
      this.lifecycle.requestShutdown(`worker ${slot.name} failed: ${reason}`, 1);
      return;
    }

    if (slot.attempts >= maxRestartAttempts) {
      // Out of 'running' before the stop is awaited, so the health loop and
      // the run loop's callback leave it alone meanwhile.
      this.errorsCounter.inc({ worker: slot.name, kind: 'gave_up' });
      slot.lastError = `gave up after ${slot.attempts} restart attempts: ${reason}`;
      this.transition(slot, 'failed', slot.lastError, {
        kind: 'gave_up',
        attempts: slot.attempts,
      });
      slot.ready.resolve(false);
      await this.stopBounded(slot, this.clock.now() + shutdownTimeoutMs);
      return;
    }

    const delayMs = restartBackoff(
      slot.attempts,
      this.config.supervisor.restartBackoffMs,
      this.config.supervisor.restartBackoffMaxMs,
      this.random,
    );
    slot.attempts += 1;
    this.transition(
      slot,
      'restarting',
      reason,
      { kind, attempt: slot.attempts, maxAttempts: maxRestartAttempts, delayMs },
      true,
    );
    // A failed start may have left half a worker behind; stop() is idempotent.
    await this.stopBounded(slot, this.clock.now() + shutdownTimeoutMs);
    if (this.stopRequested) {
      return;
    }
    slot.restartTimer = this.clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopRequested) {
        return;
      }
      slot.restarts += 1;
      this.restartsCounter.inc({ worker: slot.name });
      this.attemptStart(slot, 'restart').catch((unexpected: unknown) => {
        this.logger.error(
          { event: 'supervisor.recovery_crashed', worker: slot.name, err: unexpected },
          'supervisor could not restart a worker',
        );
        this.lifecycle.requestShutdown(`supervisor could not restart worker ${slot.name}`, 1);
      });
    }, delayMs);
  }

  private armStableTimer(slot: Slot): void {
    this.clearTimer(slot, 'stableTimer');
    if (slot.attempts === 0) {
      return;
    }
    slot.stableTimer = this.clock.setTimeout(() => {
      slot.stableTimer = undefined;
      if (slot.state !== 'running' || this.stopRequested) {
        return;
      }
      if (!this.probe(slot).healthy) {
        this.armStableTimer(slot);
        return;
      }
      this.logger.info(
        {
          event: 'worker.stable',
          worker: slot.name,
          attempts: slot.attempts,
          stableForMs: this.config.supervisor.stablePeriodMs,
        },
        'worker stable, restart count reset',
      );
      slot.attempts = 0;
    }, this.config.supervisor.stablePeriodMs);
  }

  // ---- health loop ---------------------------------------------------------

  private scheduleHealthCheck(): void {
    if (this.stopRequested) {
      return;
    }
    this.healthTimer = this.clock.setTimeout(() => {
      this.healthTimer = undefined;
      this.checkHealth();
      this.scheduleHealthCheck();
    }, this.config.supervisor.healthCheckIntervalMs);
  }

  /** One round of the health loop over the running workers. */
  checkHealth(): void {
    for (const slot of this.slots.values()) {
      if (slot.state !== 'running' || this.stopRequested) {
        continue;
      }
      const probe = this.probe(slot);
      this.upGauge.set({ worker: slot.name }, probe.healthy ? 1 : 0);
      if (probe.healthy) {
        if (slot.unhealthy) {
          slot.unhealthy = false;
          this.logger.info({ event: 'worker.healthy', worker: slot.name }, 'worker healthy again');
        }
        continue;
      }
      const reason = probe.reason ?? 'health probe failed';
      if (!this.redis.isReady() || probe.waitingForRedis) {
        // Redis is down, or this worker's own connections have not yet come
        // back after an outage (they reconnect after the main client): every
        // worker reconnects on its own, and a restart could not succeed
        // sooner, so it would only burn restart attempts or, standalone, end
        // the process. Readiness already says 503.
        if (!slot.unhealthy) {
          slot.unhealthy = true;
          this.logger.warn(
            { event: 'worker.unhealthy', worker: slot.name, reason, action: 'wait_for_redis' },
            'worker unhealthy while redis is down; waiting for reconnect',
          );
        }
        continue;
      }
      slot.unhealthy = true;
      this.logger.warn(
        { event: 'worker.unhealthy', worker: slot.name, reason },
        'worker unhealthy',
      );
      this.handleFailure(slot, new Error(`unhealthy: ${reason}`), 'unhealthy');
    }
  }

  // ---- stop ----------------------------------------------------------------

  /**
   * Stops every worker by `deadline`: dependants before what they depend
   * on, independent workers in parallel. Cancels pending restarts; a worker
   * still starting is stopped too. Idempotent.
   */
  stopAll(deadline: number): Promise<void> {
    this.stopping ??= (async () => {
      this.stopRequested = true;
      if (this.healthTimer !== undefined) {
        this.clock.clearTimeout(this.healthTimer);
        this.healthTimer = undefined;
      }
      for (const slot of this.slots.values()) {
        if (slot.restartTimer !== undefined) {
          this.logger.info(
            { event: 'worker.restart_cancelled', worker: slot.name },
            'pending restart cancelled by shutdown',
          );
        }
        this.clearTimer(slot, 'restartTimer');
        this.clearTimer(slot, 'stableTimer');
        slot.ready.resolve(false);
      }
      // SPEC §3: reading stops at once, for every worker, before anything is
      // awaited; only the drain of in-flight work follows dependency order.
      // Otherwise a dependency keeps taking new input while its dependants drain.
      for (const slot of this.slots.values()) {
        if (slot.live) {
          this.stopReading(slot);
        }
      }
      this.logger.info(
        {
          event: 'supervisor.draining',
          workers: [...this.slots.keys()],
          timeoutMs: Math.max(0, deadline - this.clock.now()),
        },
        'draining workers',
      );
      const stops = new Map<WorkerName, Promise<void>>();
      const stopOne = (slot: Slot): Promise<void> => {
        let promise = stops.get(slot.name);
        if (!promise) {
          promise = (async () => {
            const dependants = (this.dependants.get(slot.name) ?? []).map((n) => this.slot(n));
            await Promise.all(dependants.map(stopOne));
            await this.drain(slot, deadline);
          })();
          stops.set(slot.name, promise);
        }
        return promise;
      };
      await Promise.all([...this.slots.values()].map(stopOne));
      this.logger.info({ event: 'supervisor.stopped' }, 'all workers stopped');
    })();
    return this.stopping;
  }

  private async drain(slot: Slot, deadline: number): Promise<void> {
    const finalState: WorkerState = slot.state === 'failed' ? 'failed' : 'stopped';
    if (!slot.live) {
      this.transition(slot, finalState, 'shutdown');
      return;
    }
    const startedAt = this.clock.now();
    if (finalState !== 'failed') {
      this.transition(slot, 'draining', 'shutdown', {
        timeoutMs: Math.max(0, deadline - startedAt),
      });
    }
    await this.stopBounded(slot, deadline);
    slot.runningSince = undefined;
    this.upGauge.set({ worker: slot.name }, 0);
    const drainMs = this.clock.now() - startedAt;
    if (finalState === 'failed') {
      // Its failure was already logged; this is only the shutdown step.
      this.logger.info(
        { event: 'worker.drained', worker: slot.name, state: 'failed', drainMs },
        'failed worker stopped',
      );
    } else {
      this.transition(slot, 'stopped', 'shutdown', { drainMs });
    }
  }

  private stopReading(slot: Slot): void {
    try {
      slot.worker.stopReading();
    } catch (error) {
      // The drain's stop() that follows stops reading too; carry on.
      this.errorsCounter.inc({ worker: slot.name, kind: 'stop_failed' });
      this.logger.warn(
        {
          event: 'worker.stop_reading_failed',
          worker: slot.name,
          reason: redactText(toError(error).message),
        },
        'worker could not stop reading; its drain will stop it',
      );
    }
  }

  /**
   * stop(), but never waits past `deadline` even if the worker ignores it.
   * The worker is given a slightly earlier deadline (see STOP_MARGIN_MS), so
   * one that drains for its whole budget is not mistaken for one that hangs.
   */
  private async stopBounded(slot: Slot, deadline: number): Promise<void> {
    const left = Math.max(0, deadline - this.clock.now());
    const workerDeadline = deadline - Math.min(STOP_MARGIN_MS, Math.floor(left / 10));
    try {
      await withTimeout(
        this.clock,
        Promise.resolve().then(() => slot.worker.stop(workerDeadline)),
        left,
        () => new StopTimeoutError('did not stop by its deadline'),
      );
    } catch (error) {
      const kind: SupervisorErrorKind =
        error instanceof StopTimeoutError ? 'stop_timeout' : 'stop_failed';
      this.errorsCounter.inc({ worker: slot.name, kind });
      this.logger.warn(
        { event: `worker.${kind}`, worker: slot.name, reason: redactText(toError(error).message) },
        'worker did not stop cleanly; abandoning it',
      );
    } finally {
      slot.live = false;
    }
  }

  // ---- helpers -------------------------------------------------------------

  private probe(slot: Slot): WorkerProbe {
    try {
      return slot.worker.health();
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

  private refreshUp(): void {
    for (const slot of this.slots.values()) {
      const up = slot.state === 'running' && this.probe(slot).healthy;
      this.upGauge.set({ worker: slot.name }, up ? 1 : 0);
    }
  }

  private refreshUptime(): void {
    const now = this.clock.now();
    for (const slot of this.slots.values()) {
      this.uptimeGauge.set(
        { worker: slot.name },
        slot.runningSince === undefined ? 0 : (now - slot.runningSince) / 1000,
      );
    }
  }

  private slot(name: WorkerName): Slot {
    const slot = this.slots.get(name);
    if (!slot) {
      throw new Error(`no slot for worker ${name}`);
    }
    return slot;
  }

  private clearTimer(slot: Slot, key: 'restartTimer' | 'stableTimer'): void {
    const timer = slot[key];
    if (timer !== undefined) {
      this.clock.clearTimeout(timer);
      slot[key] = undefined;
    }
  }

  /** Sets the state and logs the transition once, with the worker and why. */
  private transition(
    slot: Slot,
    state: WorkerState,
    reason: string,
    extra: Record<string, unknown> = {},
    logRepeat = false,
  ): void {
    if (slot.state === state && !logRepeat) {
      return;
    }
    const from = slot.state;
    slot.state = state;
    const fields = { event: `worker.${state}`, worker: slot.name, from, reason, ...extra };
    switch (state) {
      case 'failed':
        this.logger.error(fields, 'worker failed');
        break;
      case 'restarting':
        this.logger.warn(fields, 'worker restarting');
        break;
      case 'starting':
      case 'running':
      case 'draining':
      case 'stopped':
        this.logger.info(fields, 'worker state changed');
        break;
    }
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
