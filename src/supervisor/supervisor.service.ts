import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ProcessLifecycle } from '../app/process-lifecycle.service';
import { APP_CONFIG, type AppConfig, type WorkerName } from '../config';
import { redactText } from '../logging/redact';
import {
  WORKERS,
  type WorkerLifecycle,
  type WorkerState,
  type WorkerStatus,
} from './worker-lifecycle';

interface Slot {
  worker: WorkerLifecycle;
  state: WorkerState;
  restarts: number;
  runningSince: number | undefined;
  lastError: string | null;
}

/**
 * Starts the selected workers in dependency order, stops them in reverse and
 * reports their status.
 */
@Injectable()
export class SupervisorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly slots = new Map<WorkerName, Slot>();
  private stopping: Promise<void> | undefined;

  constructor(
    @Inject(WORKERS) workers: WorkerLifecycle[],
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lifecycle: ProcessLifecycle,
    @InjectPinoLogger(SupervisorService.name) private readonly logger: PinoLogger,
  ) {
    for (const worker of workers) {
      if (config.supervisor.workers.includes(worker.name)) {
        this.slots.set(worker.name, {
          worker,
          state: 'stopped',
          restarts: 0,
          runningSince: undefined,
          lastError: null,
        });
      }
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    const started = new Map<WorkerName, Promise<void>>();
    const startOne = (slot: Slot): Promise<void> => {
      const existing = started.get(slot.worker.name);
      if (existing) {
        return existing;
      }
      const promise = (async () => {
        // Dependencies outside this process's selection are not waited for.
        await Promise.all(
          slot.worker.dependsOn
            .map((dep) => this.slots.get(dep))
            .filter((dep): dep is Slot => dep !== undefined)
            .map(startOne),
        );
        await this.startWorker(slot);
      })();
      started.set(slot.worker.name, promise);
      return promise;
    };
    await Promise.all([...this.slots.values()].map(startOne));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll(Date.now() + this.config.supervisor.shutdownTimeoutMs);
  }

  /** Readiness: every selected worker running and healthy, and no shutdown under way. */
  isReady(): boolean {
    return (
      !this.lifecycle.shuttingDown &&
      [...this.slots.values()].every(
        (slot) => slot.state === 'running' && slot.worker.health().healthy,
      )
    );
  }

  getStatus(): WorkerStatus[] {
    const now = Date.now();
    return [...this.slots.values()].map((slot) => {
      const probe = slot.worker.health();
      return {
        name: slot.worker.name,
        state: this.lifecycle.shuttingDown && slot.state === 'running' ? 'draining' : slot.state,
        healthy: slot.state === 'running' && probe.healthy,
        restarts: slot.restarts,
        uptimeSeconds: slot.runningSince ? Math.round((now - slot.runningSince) / 1000) : 0,
        lastError: slot.lastError,
        inFlight: probe.inFlight,
        processed: probe.processed,
        failed: probe.failed,
        deadLettered: probe.deadLettered,
        lastLoopAt: probe.lastLoopAt ? new Date(probe.lastLoopAt).toISOString() : null,
      };
    });
  }

  private async startWorker(slot: Slot): Promise<void> {
    const name = slot.worker.name;
    this.transition(slot, 'starting', 'bootstrap');
    try {
      await slot.worker.start((error) => this.onWorkerFailure(slot, error));
      slot.runningSince = Date.now();
      this.transition(slot, 'running', 'ready');
    } catch (error) {
      slot.lastError = redactText((error as Error).message);
      this.transition(slot, 'failed', slot.lastError);
      this.lifecycle.requestShutdown(`worker ${name} failed to start`, 1);
    }
  }

  private onWorkerFailure(slot: Slot, error: Error): void {
    slot.lastError = redactText(error.message);
    this.transition(slot, 'failed', slot.lastError);
    this.lifecycle.requestShutdown(`worker ${slot.worker.name} failed`, 1);
  }

  private stopAll(deadline: number): Promise<void> {
    this.stopping ??= (async () => {
      // Reverse of the start order: dependants stop before what they depend on.
      for (const slot of [...this.slots.values()].reverse()) {
        if (slot.state === 'stopped') {
          continue;
        }
        const wasFailed = slot.state === 'failed';
        this.transition(slot, 'draining', 'shutdown');
        try {
          await slot.worker.stop(deadline);
        } catch (error) {
          this.logger.error(
            { event: 'worker.stop_failed', worker: slot.worker.name, err: error },
            'worker stop failed',
          );
        }
        slot.runningSince = undefined;
        this.transition(slot, wasFailed ? 'failed' : 'stopped', 'shutdown');
      }
    })();
    return this.stopping;
  }

  private transition(slot: Slot, state: WorkerState, reason: string): void {
    if (slot.state === state) {
      return;
    }
    const from = slot.state;
    slot.state = state;
    const fields = { event: `worker.${state}`, worker: slot.worker.name, from, reason };
    if (state === 'failed') {
      this.logger.error(fields, 'worker failed');
    } else {
      this.logger.info(fields, 'worker state changed');
    }
  }
}
