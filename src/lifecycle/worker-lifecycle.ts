import type { WorkerName } from '../config/worker-names';

/** Snapshot a worker gives of itself; cheap and synchronous. */
export interface WorkerProbe {
  /** False when the run loop died, the read loop hangs, a handler overran its timeout or Redis is down. */
  healthy: boolean;
  /** Why it is unhealthy; human-readable, free of secrets. */
  reason?: string;
  /**
   * Unhealthy only because its Redis connection is down and reconnecting.
   * Not a failure (SPEC §2: reconnect and resume): the supervisor waits
   * instead of restarting, which could not help until Redis answers.
   */
  waitingForRedis?: boolean;
  /** Epoch ms of the read loop's last poll of Redis; undefined before the first. */
  lastLoopAt?: number;
  /** Entries being handled now. */
  inFlight: number;
  /** Counters since the process started (they survive restarts). */
  processed: number;
  failed: number;
  deadLettered: number;
  /** Extra indicator fields for /health (pending, lagMs…). */
  details?: Record<string, unknown>;
}

/**
 * The contract between a worker and the SupervisorService. A worker is a Nest
 * singleton: after `stop()` has resolved, `start()` may be called again and
 * must start afresh (that is how the supervisor restarts it).
 */
export interface WorkerLifecycle {
  readonly name: WorkerName;
  /** Workers that must report ready before this one starts. */
  readonly dependsOn: readonly WorkerName[];

  /**
   * Starts consuming. Resolves once the worker is ready (groups exist, first
   * read issued); rejects when it cannot start. A second call while running
   * rejects. `onFailure` is called at most once per start, when the run loop
   * dies on its own afterwards.
   */
  start(onFailure: (error: Error) => void): Promise<void>;

  /**
   * Stops reading at once, lets in-flight handlers finish until `deadline`
   * (epoch ms), commits what finished and leaves the rest pending. Idempotent:
   * a second call returns the same promise. Resolves by the deadline.
   * May be called while `start()` is still pending (shutdown during start,
   * or a start timeout): the start must then be abandoned and the worker end
   * stopped, whether that `start()` later resolves or rejects.
   */
  stop(deadline: number): Promise<void>;

  /**
   * Stops taking new work at once, without waiting for anything; in-flight
   * handlers carry on and a later `stop(deadline)` drains them. Lets the
   * supervisor halt every reader the moment shutdown begins, then drain in
   * reverse dependency order. Idempotent; a no-op when not running.
   */
  stopReading(): void;

  health(): WorkerProbe;
}

export type WorkerState = 'starting' | 'running' | 'restarting' | 'draining' | 'stopped' | 'failed';

/** One worker's line in `/status` and `printery-workers status --url`. */
export interface WorkerStatus {
  name: WorkerName;
  state: WorkerState;
  healthy: boolean;
  /** Why it is not healthy (the worker's probe reason, or its state); null when healthy. */
  reason: string | null;
  restarts: number;
  uptimeSeconds: number;
  lastError: string | null;
  inFlight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  lastLoopAt: string | null;
}

/** Injection token of the ordered list of worker providers. */
export const WORKERS = Symbol('WORKERS');
