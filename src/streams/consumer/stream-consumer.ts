import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { redactText } from '../../logging/redact';
import type { ConsumerSpec } from '../handler';
import type {
  ConsumerHealth,
  ConsumerLogger,
  ConsumerSettings,
  StreamConsumerOptions,
} from './contracts';
import { drain } from './drain';
import { type ConsumerParts, wireParts } from './wiring';

/**
 * A reliable consumer of one worker's stream(s) in one consumer group
 * (SPEC §2, §4). One instance per worker start; `stop()` ends it for good.
 * Its parts are built and connected in wiring.ts; this class runs their
 * start and stop in order and tells the consumer's health.
 *
 * Guarantees, and how:
 * - At-least-once: an entry is acknowledged only in the same atomic commit
 *   (one script call, or a MULTI where the script cannot run) that writes
 *   its outputs (or its dead letter). Nothing is acked before that.
 * - Concurrency is a hard bound: reads and claims ask for at most the free
 *   slots, and a slot is released only when the handler has settled, even
 *   past its timeout (task-table.ts).
 * - Redelivery: every consumer runs XAUTOCLAIM (min idle CLAIM_IDLE_MS) from
 *   its read loop, so claims never race the read for slots (reclaimer.ts).
 * - Long handlers keep their claims alive, but only while still the owner
 *   (claim-keeper.ts).
 * - Redis loss: both connections run with `autoResendUnfulfilledCommands:
 *   false` (a re-sent XREADGROUP can hang forever, a re-sent commit would
 *   apply twice). A read interrupted by a disconnect is simply issued again
 *   once ready; a commit whose reply was lost is checked with XPENDING before
 *   any retry — the commit is atomic, so an entry no longer pending was committed
 *   (committer.ts).
 */
export class StreamConsumer {
  readonly consumerName: string;
  private readonly spec: ConsumerSpec;
  private readonly settings: ConsumerSettings;
  private readonly log: ConsumerLogger;
  private readonly parts: ConsumerParts;
  /** Aborted at the stop deadline: commit retries and waits give up, handlers are told to stop. */
  private readonly deadline = new AbortController();
  private started = false;
  /** Set by stopReading(): no new reads or claims from here on. */
  private readingStopped = false;
  private stopping: Promise<void> | undefined;
  private runLoop: Promise<void> | undefined;
  private loopError: Error | undefined;
  private startedAt = 0;
  private onFailure: ((error: Error) => void) | undefined;

  constructor(options: StreamConsumerOptions) {
    const spec = options.spec;
    if (spec.streams.length === 0) {
      throw new Error(`worker ${spec.worker} reads no stream`);
    }
    if (spec.concurrency < 1) {
      throw new Error(`worker ${spec.worker} needs a concurrency of at least 1`);
    }
    this.spec = spec;
    this.settings = options.settings;
    this.log = options.logger;
    this.consumerName =
      options.consumerName ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.parts = wireParts(options, {
      consumerName: this.consumerName,
      deadline: this.deadline.signal,
      stopping: () => this.stopping !== undefined,
      fail: (error) => this.failed(error),
    });
  }

  /**
   * Connects, makes sure this worker's groups exist and starts the read loop.
   * Resolves once reading has begun; rejects when Redis cannot be reached.
   * `onFailure` is called at most once: if the read loop dies on its own, or
   * Redis refuses a commit MAX_COMMIT_REFUSALS times in a row.
   */
  async start(onFailure: (error: Error) => void): Promise<void> {
    if (this.started) {
      throw new Error(`consumer of ${this.spec.worker} already started`);
    }
    this.started = true;
    this.startedAt = Date.now();
    this.onFailure = onFailure;
    const worker = this.spec.worker;
    const { reads, commands, groups } = this.parts;
    try {
      this.throwIfStopped();
      await Promise.all([reads.connect(), commands.connect()]);
      // stop() or stopReading() may land while we wait: nothing may be armed after it.
      this.throwIfStopped();
      await groups.join(
        this.settings.groupStartId,
        () => !this.stopping && !this.readingStopped,
        this.deadline.signal,
      );
      this.throwIfStopped();
    } catch (error) {
      reads.disconnect();
      commands.disconnect();
      throw error;
    }
    this.parts.keeper.start();
    this.parts.tasks.startSweep();
    this.runLoop = this.parts.loop.run().catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.loopError = failure;
      this.log.error(
        { event: 'consumer.loop_died', worker, err: failure },
        'stream read loop stopped unexpectedly',
      );
      this.parts.outcomes.countError('loop');
      this.failed(failure);
    });
    this.log.info(
      {
        event: 'consumer.started',
        worker,
        consumer: this.consumerName,
        group: this.spec.group,
        streams: this.spec.streams.map((s) => s.stream),
        concurrency: this.spec.concurrency,
      },
      'stream consumer started',
    );
  }

  /**
   * Stops taking new work at once, without waiting for anything; in-flight
   * handlers carry on and a later `stop(deadline)` drains them. No read or
   * claim is issued after it; entries a read or claim already in flight
   * brings back are delivered to this consumer and handled as in-flight work.
   * Idempotent; a no-op when not started.
   */
  stopReading(): void {
    if (!this.started || this.readingStopped) {
      return;
    }
    this.readingStopped = true;
    this.parts.loop.stop();
    this.parts.tasks.wake();
    void this.parts.reads.end(this.parts.commands);
  }

  /**
   * Stops reading at once, lets in-flight handlers finish until `deadline`
   * (epoch ms), commits what finished and leaves the rest pending for another
   * consumer. Idempotent: every call returns the same promise.
   */
  stop(deadline: number): Promise<void> {
    const { tasks, keeper, groups, commands, reads } = this.parts;
    this.stopping ??= drain(
      {
        worker: this.spec.worker,
        log: this.log,
        stopReading: () => this.stopReading(),
        running: this.runLoop,
        tasks,
        deadline: this.deadline,
        keeper,
        groups,
        commands,
        reads,
      },
      deadline,
    );
    return this.stopping;
  }

  health(): ConsumerHealth {
    const { tasks, commands, reads, loop } = this.parts;
    const now = Date.now();
    const inFlight = tasks.size;
    const overdue = tasks.overdue;
    const details = { consumer: this.consumerName, overdueHandlers: overdue };
    const lastLoopAt = loop.lastLoopAt;
    const base = { lastLoopAt, inFlight, details };
    let reason: string | undefined;
    if (!this.started) {
      reason = 'not started';
    } else if (this.loopError) {
      reason = `read loop died: ${redactText(this.loopError.message)}`;
    } else if (this.stopping || this.readingStopped) {
      reason = 'stopping';
    } else if (commands.timingOut) {
      reason = `commands to Redis time out (no reply within ${commands.timeoutMs}ms)`;
    } else if (!reads.ready || !commands.ready) {
      return { healthy: false, reason: 'redis connection down', waitingForRedis: true, ...base };
    } else if (now - (lastLoopAt ?? this.startedAt) > this.settings.hangThresholdMs) {
      reason = `read loop has not polled for ${now - (lastLoopAt ?? this.startedAt)}ms`;
    } else if (overdue > 0) {
      reason = `${overdue} handler(s) exceeded the ${this.spec.handlerTimeoutMs}ms timeout`;
    }
    return reason ? { healthy: false, reason, ...base } : { healthy: true, ...base };
  }

  /** Passes the first failure on to onFailure; later ones add nothing the supervisor can use. */
  private failed(error: Error): void {
    const onFailure = this.onFailure;
    this.onFailure = undefined;
    onFailure?.(error);
  }

  private throwIfStopped(): void {
    if (this.stopping || this.readingStopped) {
      throw new Error(`consumer of ${this.spec.worker} was stopped while starting`);
    }
  }
}
