import type { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import type { WorkerProbe, WorkerStatus } from '../lifecycle/worker-lifecycle';
import type { Clock } from './clock';
import type { SupervisorMetrics } from './supervisor-metrics';
import type { WorkerSlot } from './worker-slot';

/**
 * The supervisor as others read it: /status and the CLI (getStatus),
 * /health/ready (isReady), and the up and uptime gauges.
 */
export class StatusProjection {
  constructor(
    private readonly slots: readonly WorkerSlot[],
    private readonly clock: Clock,
    /** Says whether the process was asked to stop (a signal, a failed worker standalone). */
    private readonly lifecycle: Pick<ProcessLifecycle, 'shuttingDown'>,
    /** True once the supervisor's own shutdown sequence has begun. */
    private readonly stopping: () => boolean,
    metrics: SupervisorMetrics,
  ) {
    // Scrapes read the live state rather than the last health tick.
    Object.assign(metrics.up, {
      collect: () => {
        for (const slot of this.slots) {
          metrics.setUp(slot.name, slot.state === 'running' && slot.probe().healthy);
        }
      },
    });
    Object.assign(metrics.uptime, {
      collect: () => {
        const now = this.clock.now();
        for (const slot of this.slots) {
          const since = slot.runningSince;
          metrics.uptime.set({ worker: slot.name }, since === undefined ? 0 : (now - since) / 1000);
        }
      },
    });
  }

  /** Readiness: every selected worker running and healthy, and no shutdown under way. */
  isReady(): boolean {
    return (
      !this.lifecycle.shuttingDown &&
      !this.stopping() &&
      this.slots.every((slot) => slot.state === 'running' && slot.probe().healthy)
    );
  }

  getStatus(): WorkerStatus[] {
    const now = this.clock.now();
    return this.slots.map((slot) => {
      const probe = slot.probe();
      const state =
        this.lifecycle.shuttingDown && slot.state === 'running' ? 'draining' : slot.state;
      const healthy = state === 'running' && probe.healthy;
      return {
        name: slot.name,
        state,
        healthy,
        reason: healthy ? null : reasonOf(state, probe),
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
}

/** Why a worker is not healthy, as /status and `status` show it. */
function reasonOf(state: WorkerStatus['state'], probe: WorkerProbe): string {
  if (state === 'running') {
    return probe.reason ?? 'unhealthy';
  }
  // A start that waits out a failover (not counted against its timeout) says so.
  return state === 'starting' && probe.waitingForRedis === true
    ? 'starting: waiting for Redis'
    : state;
}
