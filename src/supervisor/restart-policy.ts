import type { AppConfig } from '../config';
import { restartBackoff } from './backoff';

/** The settings the restart decision reads (SPEC §3). */
export type RestartSettings = Pick<
  AppConfig['supervisor'],
  | 'supervised'
  | 'maxRestartAttempts'
  | 'restartBackoffMs'
  | 'restartBackoffMaxMs'
  | 'stablePeriodMs'
>;

/** What the policy remembers about one worker between events. */
export interface RestartState {
  /** Consecutive restarts not followed by a stable period; decides the give-up. */
  readonly attempts: number;
  /**
   * Start of the current stability period: when the worker last became
   * running, or when a stability check last found it unhealthy. Undefined
   * while it is not running.
   */
  readonly watchingSince: number | undefined;
}

export const INITIAL_RESTART_STATE: RestartState = { attempts: 0, watchingSince: undefined };

/** A start failed or timed out, the run loop died, or the worker was found unhealthy. */
export interface FailedEvent {
  type: 'failed';
}

/** A start succeeded, or the stability timer asked for a check. */
export type StabilityEvent = { type: 'running' } | { type: 'stability-check'; healthy: boolean };

/** The health loop found a running worker unhealthy. */
export interface UnhealthyEvent {
  type: 'unhealthy';
  /** The shared Redis client is connected. */
  redisReady: boolean;
  /** The worker says it is unhealthy only because its own connection is reconnecting. */
  waitingForRedis: boolean;
}

export type RestartEvent = FailedEvent | StabilityEvent | UnhealthyEvent;

export type FailureAction =
  /** Stop what is left of it, wait `delayMs`, start it again; `attempt` counts from 1. */
  | { type: 'restart'; attempt: number; maxAttempts: number; delayMs: number }
  /** Out of attempts: mark it failed for good; the other workers keep running. */
  | { type: 'give-up'; attempts: number }
  /** Standalone: mark it failed; the process drains the rest and exits 1. */
  | { type: 'exit'; exitCode: 1 };

export type StabilityAction =
  | { type: 'none' }
  /** Check again after `afterMs`: the count is reset only by a healthy stable period. */
  | { type: 'check-stability'; afterMs: number }
  /** Stable for the whole period: the count of `attempts` was reset. */
  | { type: 'stable'; attempts: number };

export type UnhealthyAction =
  /** Not a failure: the worker reconnects on its own and readiness already says 503. */
  | { type: 'wait-for-redis' }
  /** Handle it as a failure (a {@link FailedEvent} follows). */
  | { type: 'fail' };

export type RestartAction = FailureAction | StabilityAction | UnhealthyAction;

export interface Decision<A extends RestartAction = RestartAction> {
  state: RestartState;
  action: A;
}

/**
 * When to restart a worker, as a pure function of its state, one event and
 * the time: no timers, no I/O, so it is specified on a fake clock.
 *
 * Shaped like OTP's restart intensity (erlang/otp `supervisor.erl`
 * `add_restart`), with SPEC §3's rule instead of OTP's sliding window: OTP
 * gives up when more than `intensity` restarts fall within `period` seconds;
 * here the count is of *consecutive* restarts, and only a worker that stays
 * healthy for a whole `stablePeriodMs` gets it back to zero. Giving up marks
 * that one worker failed; unlike OTP, the supervisor itself carries on.
 */
export class RestartPolicy {
  /** `random` draws the backoff's jitter in [0, 1); tests pin it. */
  constructor(
    private readonly settings: RestartSettings,
    private readonly random: () => number = Math.random,
  ) {}

  decide(state: RestartState, event: FailedEvent, now: number): Decision<FailureAction>;
  decide(state: RestartState, event: StabilityEvent, now: number): Decision<StabilityAction>;
  decide(state: RestartState, event: UnhealthyEvent, now: number): Decision<UnhealthyAction>;
  decide(state: RestartState, event: RestartEvent, now: number): Decision {
    switch (event.type) {
      case 'failed':
        return this.failed(state);
      case 'running':
        return {
          state: { ...state, watchingSince: now },
          // Nothing to reset before the first restart.
          action:
            state.attempts === 0
              ? { type: 'none' }
              : { type: 'check-stability', afterMs: this.settings.stablePeriodMs },
        };
      case 'stability-check':
        return this.stabilityCheck(state, event.healthy, now);
      case 'unhealthy':
        // Redis is down, or this worker's own connections have not yet come
        // back after an outage (they reconnect after the main client): every
        // worker reconnects on its own, and a restart could not succeed
        // sooner, so it would only burn restart attempts or, standalone, end
        // the process. Readiness already says 503. Whatever else makes a
        // worker report waitingForRedis is waited out the same way.
        return {
          state,
          action:
            !event.redisReady || event.waitingForRedis
              ? { type: 'wait-for-redis' }
              : { type: 'fail' },
        };
    }
  }

  private failed(state: RestartState): Decision<FailureAction> {
    const { supervised, maxRestartAttempts, restartBackoffMs, restartBackoffMaxMs } = this.settings;
    const stopped: RestartState = { ...state, watchingSince: undefined };
    if (!supervised) {
      return { state: stopped, action: { type: 'exit', exitCode: 1 } };
    }
    if (state.attempts >= maxRestartAttempts) {
      return { state: stopped, action: { type: 'give-up', attempts: state.attempts } };
    }
    const delayMs = restartBackoff(
      state.attempts,
      restartBackoffMs,
      restartBackoffMaxMs,
      this.random,
    );
    const attempt = state.attempts + 1;
    return {
      state: { attempts: attempt, watchingSince: undefined },
      action: { type: 'restart', attempt, maxAttempts: maxRestartAttempts, delayMs },
    };
  }

  private stabilityCheck(
    state: RestartState,
    healthy: boolean,
    now: number,
  ): Decision<StabilityAction> {
    const { stablePeriodMs } = this.settings;
    if (state.watchingSince === undefined || state.attempts === 0) {
      return { state, action: { type: 'none' } };
    }
    if (!healthy) {
      // An unhealthy moment (Redis away, say) starts the period over.
      return {
        state: { ...state, watchingSince: now },
        action: { type: 'check-stability', afterMs: stablePeriodMs },
      };
    }
    const stableForMs = now - state.watchingSince;
    if (stableForMs < stablePeriodMs) {
      return { state, action: { type: 'check-stability', afterMs: stablePeriodMs - stableForMs } };
    }
    return {
      state: { attempts: 0, watchingSince: state.watchingSince },
      action: { type: 'stable', attempts: state.attempts },
    };
  }
}
