import { redactText } from '../logging/redact';
import type { TimerHandle } from './clock';
import { INITIAL_RESTART_STATE, type RestartState, type StabilityEvent } from './restart-policy';
import type { SupervisorContext } from './supervisor-context';
import type { SupervisorErrorKind } from './supervisor-metrics';
import type { StartEvents, WorkerSlot } from './worker-slot';

/**
 * What happens to one worker after it fails or is found unhealthy, and
 * while it proves itself stable: feeds each event to the RestartPolicy and
 * carries out the action, owning the restart and stability timers.
 */
export class WorkerRecovery {
  private restart: RestartState = INITIAL_RESTART_STATE;
  /** The slot generation whose failure is being (or was) handled; one failure per start. */
  private failedGeneration = 0;
  /** The last health check found it unhealthy (logged once per episode). */
  private unhealthy = false;
  /** That episode is only a Redis outage, which RedisService logs for everyone. */
  private waitedForRedis = false;
  private restartTimer: TimerHandle | undefined;
  private stableTimer: TimerHandle | undefined;
  private readonly events: StartEvents = {
    running: () => {
      this.unhealthy = false;
      this.watchStability({ type: 'running' });
    },
    startFailed: (error, kind) => this.fail(error, kind),
    crashed: (error) => this.handleFailure(error, 'crashed'),
  };

  constructor(
    readonly slot: WorkerSlot,
    private readonly ctx: SupervisorContext,
  ) {}

  /** Starts the worker; a failed start is handled (restart, give up, exit) before this settles. */
  start(reason: 'bootstrap' | 'restart'): Promise<void> {
    return this.slot.start(reason, this.events);
  }

  /**
   * One round of the health loop for this worker. An unhealthy worker is a
   * failure unless the policy says it is only waiting for Redis.
   */
  checkHealth(redisReady: boolean): void {
    const { slot, ctx } = this;
    if (slot.state !== 'running' || ctx.stopping()) {
      return;
    }
    const probe = slot.probe();
    ctx.metrics.setUp(slot.name, probe.healthy);
    if (probe.healthy) {
      if (this.unhealthy) {
        this.unhealthy = false;
        // Back from a Redis outage: RedisService says so once (redis.reconnected).
        ctx.logger[this.waitedForRedis ? 'debug' : 'info'](
          { event: 'worker.healthy', worker: slot.name },
          'worker healthy again',
        );
      }
      return;
    }
    const reason = probe.reason ?? 'health probe failed';
    const { action } = ctx.policy.decide(
      this.restart,
      { type: 'unhealthy', redisReady, waitingForRedis: probe.waitingForRedis === true },
      ctx.clock.now(),
    );
    switch (action.type) {
      case 'wait-for-redis':
        if (!this.unhealthy) {
          this.unhealthy = true;
          this.waitedForRedis = true;
          // The outage itself is logged once, by RedisService (redis.disconnected):
          // every worker waiting for it is not news for the operator.
          ctx.logger.debug(
            { event: 'worker.unhealthy', worker: slot.name, reason, action: 'wait_for_redis' },
            'worker unhealthy while redis is down; waiting for reconnect',
          );
        }
        return;
      case 'fail':
        this.unhealthy = true;
        this.waitedForRedis = false;
        ctx.logger.warn(
          { event: 'worker.unhealthy', worker: slot.name, reason },
          'worker unhealthy',
        );
        this.handleFailure(new Error(`unhealthy: ${reason}`), 'unhealthy');
        return;
    }
  }

  /**
   * Shutdown began: the pending restart and the stability watch are
   * cancelled, and whoever waits for it to run learns it will not.
   */
  cancel(): void {
    if (this.restartTimer !== undefined) {
      this.ctx.logger.info(
        { event: 'worker.restart_cancelled', worker: this.slot.name },
        'pending restart cancelled by shutdown',
      );
    }
    this.clearTimer('restartTimer');
    this.clearTimer('stableTimer');
    this.slot.abandonReadiness();
  }

  /** Runs {@link fail} from a callback or timer without losing its errors. */
  private handleFailure(error: Error, kind: SupervisorErrorKind): void {
    this.fail(error, kind).catch((unexpected: unknown) => {
      this.ctx.logger.error(
        { event: 'supervisor.recovery_crashed', worker: this.slot.name, err: unexpected },
        'supervisor could not handle a worker failure',
      );
      this.ctx.requestShutdown(`supervisor could not recover worker ${this.slot.name}`, 1);
    });
  }

  /**
   * A start failed, the run loop died or the health check found the worker
   * unhealthy. Standalone: mark it failed and ask the process to drain and
   * exit 1. Supervised: stop it (bounded), then restart after backoff, or
   * give up after maxRestartAttempts consecutive failed restarts.
   */
  private async fail(error: Error, kind: SupervisorErrorKind): Promise<void> {
    const { slot, ctx } = this;
    if (this.failedGeneration === slot.generation) {
      // This start's failure is already being handled (e.g. a health tick or
      // the run loop's own report while the give-up stop is in progress).
      return;
    }
    this.failedGeneration = slot.generation;
    const reason = redactText(error.message);
    slot.wentDown(reason);
    this.clearTimer('stableTimer');
    ctx.metrics.error(slot.name, kind);
    if (ctx.stopping()) {
      return;
    }
    const { state, action } = ctx.policy.decide(this.restart, { type: 'failed' }, ctx.clock.now());
    this.restart = state;
    switch (action.type) {
      case 'exit':
        slot.fail(reason, { kind });
        // The worker itself is stopped with the others by the shutdown sequence.
        ctx.requestShutdown(`worker ${slot.name} failed: ${reason}`, action.exitCode);
        return;
      case 'give-up':
        // Out of 'running' before the stop is awaited, so the health loop and
        // the run loop's callback leave it alone meanwhile.
        ctx.metrics.error(slot.name, 'gave_up');
        slot.fail(`gave up after ${action.attempts} restart attempts: ${reason}`, {
          kind: 'gave_up',
          attempts: action.attempts,
        });
        await slot.stop(ctx.clock.now() + ctx.settings.shutdownTimeoutMs);
        return;
      case 'restart':
        slot.restarting(reason, {
          kind,
          attempt: action.attempt,
          maxAttempts: action.maxAttempts,
          delayMs: action.delayMs,
        });
        // A failed start may have left half a worker behind; stop() is idempotent.
        await slot.stop(ctx.clock.now() + ctx.settings.shutdownTimeoutMs);
        if (!ctx.stopping()) {
          this.scheduleRestart(action.delayMs);
        }
        return;
    }
  }

  private scheduleRestart(delayMs: number): void {
    this.restartTimer = this.ctx.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.ctx.stopping()) {
        return;
      }
      this.slot.countRestart();
      this.start('restart').catch((unexpected: unknown) => {
        this.ctx.logger.error(
          { event: 'supervisor.recovery_crashed', worker: this.slot.name, err: unexpected },
          'supervisor could not restart a worker',
        );
        this.ctx.requestShutdown(`supervisor could not restart worker ${this.slot.name}`, 1);
      });
    }, delayMs);
  }

  /** Feeds the policy a stability event and carries out what it says. */
  private watchStability(event: StabilityEvent): void {
    const { slot, ctx } = this;
    const { state, action } = ctx.policy.decide(this.restart, event, ctx.clock.now());
    this.restart = state;
    this.clearTimer('stableTimer');
    switch (action.type) {
      case 'none':
        return;
      case 'check-stability':
        this.stableTimer = ctx.clock.setTimeout(() => {
          this.stableTimer = undefined;
          if (slot.state !== 'running' || ctx.stopping()) {
            return;
          }
          this.watchStability({ type: 'stability-check', healthy: slot.probe().healthy });
        }, action.afterMs);
        return;
      case 'stable':
        ctx.logger.info(
          {
            event: 'worker.stable',
            worker: slot.name,
            attempts: action.attempts,
            stableForMs: ctx.settings.stablePeriodMs,
          },
          'worker stable, restart count reset',
        );
        return;
    }
  }

  private clearTimer(key: 'restartTimer' | 'stableTimer'): void {
    const timer = this[key];
    if (timer !== undefined) {
      this.ctx.clock.clearTimeout(timer);
      this[key] = undefined;
    }
  }
}
