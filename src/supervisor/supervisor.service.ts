import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig, type WorkerName } from '../config';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { WORKERS, type WorkerLifecycle, type WorkerStatus } from '../lifecycle/worker-lifecycle';
import { RedisService } from '../redis/redis.service';
import { CLOCK, type Clock, type TimerHandle } from './clock';
import { planWorkers } from './dependency-graph';
import { RestartPolicy } from './restart-policy';
import { shutDown } from './shutdown-sequence';
import { StatusProjection } from './status-projection';
import type { SupervisorContext } from './supervisor-context';
import { SupervisorMetrics } from './supervisor-metrics';
import { WorkerRecovery } from './worker-recovery';
import { WorkerSlot } from './worker-slot';

/** What the supervisor needs to know about Redis: whether the shared client is connected. */
export type RedisReadiness = Pick<RedisService, 'isReady'>;

/**
 * The one place that knows every worker's state: starts the selected workers
 * in dependency order, watches their health, restarts them with backoff in
 * supervised mode (or asks the process to exit 1 in standalone mode), and
 * drains them in reverse order on shutdown. SPEC §3.
 *
 * This class only wires the parts: {@link WorkerSlot} (one worker's state
 * machine), {@link WorkerRecovery} (its restarts, by {@link RestartPolicy}),
 * {@link shutDown} and {@link StatusProjection}.
 */
@Injectable()
export class SupervisorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Every selected worker, dependencies before dependants. */
  private readonly workers = new Map<WorkerName, WorkerRecovery>();
  private readonly dependencies: Map<WorkerName, WorkerName[]>;
  private readonly dependants: Map<WorkerName, WorkerName[]>;
  private readonly status: StatusProjection;
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
    metrics: SupervisorMetrics,
    policy: RestartPolicy,
  ) {
    // Bad wiring fails here, before Redis is dialled or anything starts.
    const plan = planWorkers(workers, config.supervisor.workers);
    this.dependencies = plan.dependencies;
    this.dependants = plan.dependants;
    const context: SupervisorContext = {
      clock,
      logger,
      metrics,
      policy,
      settings: config.supervisor,
      redisReady: () => this.redis.isReady(),
      startRedisWaitMs: config.redis.startupTimeoutMs,
      stopping: () => this.stopRequested,
      requestShutdown: (reason, exitCode) => lifecycle.requestShutdown(reason, exitCode),
    };
    for (const worker of plan.order) {
      this.workers.set(worker.name, new WorkerRecovery(new WorkerSlot(worker, context), context));
    }
    this.status = new StatusProjection(
      [...this.workers.values()].map((worker) => worker.slot),
      clock,
      lifecycle,
      () => this.stopRequested,
      metrics,
    );
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
        workers: [...this.workers.keys()],
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
    return this.status.isReady();
  }

  getStatus(): WorkerStatus[] {
    return this.status.getStatus();
  }

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
      const { clock, logger, workers, dependants } = this;
      await shutDown({ clock, logger, workers, dependants }, deadline);
    })();
    return this.stopping;
  }

  private async startAll(): Promise<void> {
    await Promise.all([...this.workers.keys()].map((name) => this.launch(name)));
  }

  /** Waits for the worker's selected dependencies to run, then starts it. */
  private async launch(name: WorkerName): Promise<void> {
    const worker = this.worker(name);
    const deps = (this.dependencies.get(name) ?? []).map((dep) => this.worker(dep).slot);
    const readiness = await Promise.all(deps.map((dep) => dep.whenReady()));
    if (this.stopRequested || this.lifecycle.shuttingDown) {
      return;
    }
    const notReady = deps.filter((_, i) => !readiness[i]).map((dep) => dep.name);
    if (notReady.length > 0) {
      worker.slot.fail(`dependency ${notReady.join(', ')} is not running`);
      return;
    }
    await worker.start('bootstrap');
  }

  private scheduleHealthCheck(): void {
    if (this.stopRequested) {
      return;
    }
    this.healthTimer = this.clock.setTimeout(() => {
      this.healthTimer = undefined;
      // One round of the health loop over the running workers.
      const redisReady = this.redis.isReady();
      for (const worker of this.workers.values()) {
        worker.checkHealth(redisReady);
      }
      this.scheduleHealthCheck();
    }, this.config.supervisor.healthCheckIntervalMs);
  }

  private worker(name: WorkerName): WorkerRecovery {
    const worker = this.workers.get(name);
    if (!worker) {
      throw new Error(`no slot for worker ${name}`);
    }
    return worker;
  }
}
