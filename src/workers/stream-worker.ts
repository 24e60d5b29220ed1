import type { AppConfig, WorkerName } from '../config';
import type { ConsumerSpec, HandlerResult, InboundMessage } from '../streams/handler';
import type { StreamConsumer, WorkerCounters } from '../streams/consumer';
import type { StreamConsumerFactory } from '../streams/stream-consumer.factory';
import { StreamTopology } from '../streams/topology';
import type { WorkerLifecycle, WorkerProbe } from '../lifecycle/worker-lifecycle';

/** How long after a worker first started it warms up (see `warmUp`). */
export const WARM_UP_DELAY_MS = 1000;

/**
 * Base of the four workers: everything but the business logic. A subclass
 * passes its name and dependencies to `super()` and implements `handle()`;
 * the stream runtime reads, claims, retries, dead-letters, commits and
 * drains around it (SPEC §2).
 *
 * ```ts
 * @Injectable()
 * export class ValidatorWorker extends StreamWorker {
 *   constructor(factory: StreamConsumerFactory, @Inject(APP_CONFIG) config: AppConfig) {
 *     super('validator', factory, config);
 *   }
 *   async handle(message: InboundMessage): Promise<HandlerResult> { … }
 * }
 * ```
 *
 * `handle()` returns the output events (published with the input's ack in
 * one MULTI) or `{ outcome: 'skipped' }`; it throws `InvalidEntryError` for a
 * poison entry and anything else for a retryable failure. It must honour
 * `message.signal` (handler timeout, stop deadline).
 */
export abstract class StreamWorker implements WorkerLifecycle {
  readonly dependsOn: readonly WorkerName[];
  protected readonly topology: StreamTopology;
  /** Since the process started; kept here so supervisor restarts do not reset them. */
  private readonly counters: WorkerCounters = {
    processed: 0,
    failed: 0,
    deadLettered: 0,
    lastCommitted: new Map(),
  };
  private consumer: StreamConsumer | undefined;
  private stopPromise: Promise<void> | undefined;
  /** The warm-up due, if any; it runs once per process, not once per restart. */
  private warmUpTimer: NodeJS.Timeout | undefined;
  private warmedUp = false;

  protected constructor(
    readonly name: WorkerName,
    private readonly consumers: StreamConsumerFactory,
    protected readonly config: AppConfig,
  ) {
    this.dependsOn = config.workers[name].dependsOn;
    this.topology = new StreamTopology(config.streams.prefix, config.streams.registryPrefix);
  }

  /** Handles one entry; see the class comment for the contract. */
  abstract handle(message: InboundMessage): Promise<HandlerResult>;

  /**
   * Loads what the worker's first entry would otherwise pay for: an HTTP
   * client, a schema's compiled parser. Called once, WARM_UP_DELAY_MS after
   * the worker first started, so it slows neither the start nor the
   * readiness probe, and best effort: what fails here happens again, as
   * before, on the first entry. The first deployment after a start took
   * 127–185 ms end to end, 72 ms of it loading undici for the first health
   * probe; with the warm-ups 51–53 ms, the rest being first connections and
   * code not yet optimised (a warm deployment takes 5–8 ms; issue 16).
   */
  protected warmUp(): void {}

  /** The streams this worker reads, in one group. Defaults to the SPEC §1 table. */
  protected streams(): ConsumerSpec['streams'] {
    return this.topology.readsOf(this.name).map(({ stream, eventType }) => ({ stream, eventType }));
  }

  async start(onFailure: (error: Error) => void): Promise<void> {
    if (this.consumer && !this.stopped) {
      throw new Error(`worker ${this.name} is already running`);
    }
    const settings = this.config.workers[this.name];
    const consumer = this.consumers.create(
      {
        worker: this.name,
        group: this.topology.group(this.name),
        streams: this.streams(),
        concurrency: settings.concurrency,
        handlerTimeoutMs: settings.handlerTimeoutMs,
        handler: (message) => this.handle(message),
      },
      this.counters,
    );
    this.consumer = consumer;
    this.stopPromise = undefined;
    try {
      await consumer.start(onFailure);
      if (!this.stopped) {
        // Not when a stop landed while the start finished: its shutdown may close what warmUp would open.
        this.scheduleWarmUp();
      }
    } catch (error) {
      // Release connections opened before the failure; a later start() begins afresh.
      await consumer.stop(Date.now());
      this.stopPromise = Promise.resolve();
      throw error;
    }
  }

  /**
   * Stops taking new work at once, without waiting for anything; in-flight
   * handlers carry on and a later `stop(deadline)` drains them.
   */
  stopReading(): void {
    if (this.consumer && !this.stopped) {
      this.consumer.stopReading();
    }
  }

  stop(deadline: number): Promise<void> {
    // Nothing to warm for a worker stopping; a later start schedules it again.
    clearTimeout(this.warmUpTimer);
    this.warmUpTimer = undefined;
    this.stopPromise ??= this.consumer ? this.consumer.stop(deadline) : Promise.resolve();
    return this.stopPromise;
  }

  health(): WorkerProbe {
    const { processed, failed, deadLettered } = this.counters;
    const counters = { processed, failed, deadLettered };
    if (!this.consumer) {
      return { healthy: false, reason: 'not started', inFlight: 0, ...counters };
    }
    const probe = this.consumer.health();
    return {
      healthy: probe.healthy,
      ...(probe.reason !== undefined ? { reason: probe.reason } : {}),
      ...(probe.waitingForRedis ? { waitingForRedis: true } : {}),
      ...(probe.lastLoopAt !== undefined ? { lastLoopAt: probe.lastLoopAt } : {}),
      inFlight: probe.inFlight,
      ...counters,
      details: probe.details,
    };
  }

  private scheduleWarmUp(): void {
    if (this.warmedUp || this.warmUpTimer !== undefined) {
      return;
    }
    this.warmUpTimer = setTimeout(() => {
      this.warmUpTimer = undefined;
      this.warmedUp = true;
      try {
        this.warmUp();
      } catch {
        // Best effort: the first entry meets the same failure and reports it.
      }
    }, WARM_UP_DELAY_MS);
    // A pending warm-up never keeps the process alive.
    this.warmUpTimer.unref();
  }

  private get stopped(): boolean {
    return this.stopPromise !== undefined;
  }
}
