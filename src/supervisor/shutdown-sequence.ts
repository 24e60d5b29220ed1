import type { PinoLogger } from 'nestjs-pino';
import type { WorkerName } from '../config';
import type { Clock } from './clock';
import type { WorkerRecovery } from './worker-recovery';

export interface ShutdownParts {
  readonly clock: Clock;
  readonly logger: PinoLogger;
  /** Every selected worker, dependencies before dependants. */
  readonly workers: ReadonlyMap<WorkerName, WorkerRecovery>;
  /** Selected workers that must stop before each one stops. */
  readonly dependants: ReadonlyMap<WorkerName, readonly WorkerName[]>;
}

/**
 * Stops every worker by `deadline`: dependants before what they depend
 * on, independent workers in parallel. Cancels pending restarts; a worker
 * still starting is stopped too. Each worker's stop is bounded, so the
 * whole sequence never outlives the deadline.
 */
export async function shutDown(parts: ShutdownParts, deadline: number): Promise<void> {
  const { clock, logger, workers, dependants } = parts;
  for (const worker of workers.values()) {
    worker.cancel();
  }
  // SPEC §3: reading stops at once, for every worker, before anything is
  // awaited; only the drain of in-flight work follows dependency order.
  // Otherwise a dependency keeps taking new input while its dependants drain.
  for (const { slot } of workers.values()) {
    if (slot.isLive) {
      slot.stopReading();
    }
  }
  logger.info(
    {
      event: 'supervisor.draining',
      workers: [...workers.keys()],
      timeoutMs: Math.max(0, deadline - clock.now()),
    },
    'draining workers',
  );
  const stops = new Map<WorkerName, Promise<void>>();
  const stopOne = (name: WorkerName): Promise<void> => {
    let promise = stops.get(name);
    if (!promise) {
      promise = (async () => {
        await Promise.all((dependants.get(name) ?? []).map(stopOne));
        await workers.get(name)?.slot.drain(deadline);
      })();
      stops.set(name, promise);
    }
    return promise;
  };
  await Promise.all([...workers.keys()].map(stopOne));
  logger.info({ event: 'supervisor.stopped' }, 'all workers stopped');
}
