import type { DeadLetterReason } from '../dead-letter';
import { redactText } from '../../logging/redact';
import type { ConsumerLogger, ConsumerMetrics, WorkerCounters } from './contracts';
import { errorText } from './dead-letters';
import type { Task } from './task';

/** The `kind` label of `printery_worker_errors_total`. */
export type ErrorKind = 'loop' | 'redis' | 'internal' | 'timeout' | 'handler' | 'commit';

/** How a committed entry counts in `printery_events_processed_total`. */
export type CommitOutcome = 'ok' | 'skipped';

/**
 * What became of each entry, told once: the worker's counters, the SPEC §6
 * metrics, the per-entry log events and the entry's span status. Holds no state of its own beyond
 * the metric children it binds; it sends nothing to Redis.
 */
export class Outcomes {
  private readonly labels: { worker: string };
  /** prom-client children bound once: a label object per inc() was a measurable share of the hot path. */
  private readonly okCount: { inc(): void };
  private readonly skippedCount: { inc(): void };
  private readonly latency: { observe(value: number): void };

  constructor(
    private readonly worker: string,
    private readonly metrics: ConsumerMetrics,
    private readonly counters: WorkerCounters,
    private readonly log: ConsumerLogger,
    private readonly maxDeliveries: number,
  ) {
    this.labels = { worker };
    this.okCount = metrics.processed.labels({ ...this.labels, outcome: 'ok' });
    this.skippedCount = metrics.processed.labels({ ...this.labels, outcome: 'skipped' });
    this.latency = metrics.processingSeconds.labels(this.labels);
  }

  /** The worker's in-flight gauge, bound to its labels. */
  inFlightGauge(): { set(value: number): void } {
    return this.metrics.inFlight.labels(this.labels);
  }

  countError(kind: ErrorKind): void {
    this.metrics.errors.inc({ ...this.labels, kind });
  }

  /** The entry's outputs (or its skip) and its ack were applied. */
  committed(task: Task, outcome: CommitOutcome): void {
    task.span.succeeded(outcome);
    this.counters.processed += 1;
    (outcome === 'ok' ? this.okCount : this.skippedCount).inc();
    this.latency.observe((performance.now() - task.receivedAt) / 1000);
    this.log.debug(
      {
        event: 'message.committed',
        worker: this.worker,
        stream: task.stream,
        entryId: task.entryId,
        outcome,
      },
      'entry committed',
    );
  }

  /** The handler threw (not InvalidEntryError) or timed out. */
  handlerFailed(timedOut: boolean): void {
    this.counters.failed += 1;
    this.countError(timedOut ? 'timeout' : 'handler');
  }

  /** A failed entry stays pending for redelivery. */
  retrying(task: Task, error: unknown, timedOut: boolean): void {
    task.span.failed('retry', errorText(error), errorName(error));
    this.metrics.processed.inc({ ...this.labels, outcome: 'retry' });
    this.log.warn(
      {
        event: timedOut ? 'message.timed_out' : 'message.failed',
        worker: this.worker,
        stream: task.stream,
        entryId: task.entryId,
        deliveryCount: task.deliveryCount,
        maxDeliveries: this.maxDeliveries,
        err: error,
      },
      'handler failed; entry stays pending for redelivery',
    );
  }

  /** The entry's dead letter and its ack were applied. */
  deadLettered(task: Task, reason: DeadLetterReason, error: string): void {
    task.span.failed('dead_letter', `dead-lettered (${reason}): ${error}`, reason);
    this.countDeadLetter(reason);
    this.log.warn(
      {
        event: 'message.dead_lettered',
        worker: this.worker,
        stream: task.stream,
        entryId: task.entryId,
        reason,
        deliveryCount: task.deliveryCount,
        error: redactText(error).slice(0, 200),
      },
      'entry moved to the dead-letter stream',
    );
  }

  /** Pending entries deleted from the stream were acked: they can never be handled. */
  deletedWhilePending(stream: string, entryIds: readonly string[]): void {
    for (const entryId of entryIds) {
      this.countDeadLetter('deleted');
      this.log.warn(
        { event: 'message.deleted_while_pending', worker: this.worker, stream, entryId },
        'pending entry was deleted from the stream; acknowledged',
      );
    }
  }

  /**
   * An entry `dlq replay` re-drove for another group reading the same
   * stream: acknowledged here without running the handler.
   */
  replaySkipped(task: Task, target: string): void {
    this.log.debug(
      {
        event: 'message.replay_skipped',
        worker: this.worker,
        stream: task.stream,
        entryId: task.entryId,
        replayFor: target,
      },
      'entry was replayed for another consumer group; acknowledged without handling',
    );
  }

  /** A bug in the runtime itself: the entry stays pending. */
  internalError(task: Task, error: unknown): void {
    task.span.failed('internal', errorText(error), errorName(error));
    this.countError('internal');
    this.log.error(
      {
        event: 'message.process_failed',
        worker: this.worker,
        stream: task.stream,
        entryId: task.entryId,
        err: error,
      },
      'entry processing failed unexpectedly; it stays pending',
    );
  }

  private countDeadLetter(reason: DeadLetterReason): void {
    this.counters.deadLettered += 1;
    this.metrics.deadLetters.inc({ ...this.labels, reason });
    this.metrics.processed.inc({ ...this.labels, outcome: 'dead_letter' });
  }
}

/** The `error.type` of a failure: the error's class name. */
function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
