import type { EntryTracer } from '../../tracing/tracing';
import { type Envelope, parseEnvelope, replayTarget } from '../envelope';
import type { ConsumerSpec, HandlerResult, InboundMessage } from '../handler';
import type { EventType, StreamTopology } from '../topology';
import type { CommitBatcher } from './commit-batcher';
import type { CommitWrites } from './commit-layout';
import type { Committer } from './committer';
import { ClaimLostError, type ConsumerSettings } from './contracts';
import { type DeadLetters, errorText } from './dead-letters';
import type { CommitOutcome, Outcomes } from './outcomes';
import { encodeOutputs, outputWrites, xaddOptionsFor } from './output-writes';
import { type Task, newTask, taskKey, taskSignal } from './task';
import type { TaskTable } from './task-table';

/** Takes an entry Redis has delivered to this consumer (read or claimed). */
export type Dispatch = (
  stream: string,
  eventType: EventType,
  entryId: string,
  fields: string[],
  deliveryCount: number,
) => void;

/** What the dispatcher reaches to handle an entry start to finish. */
export interface DispatcherContext {
  spec: ConsumerSpec;
  settings: Pick<ConsumerSettings, 'maxEventBytes' | 'maxDeliveries' | 'maxLen'>;
  topology: StreamTopology;
  tasks: Pick<TaskTable, 'has' | 'add' | 'release'>;
  batcher: Pick<CommitBatcher, 'add'>;
  committer: Pick<Committer, 'mayQueue' | 'commit' | 'applied'>;
  deadLetters: Pick<DeadLetters, 'handlerFailed' | 'deadLetter'>;
  outcomes: Pick<Outcomes, 'committed' | 'replaySkipped' | 'internalError'>;
  /** Starts each entry's consumer span (a no-op when not tracing). */
  tracer: EntryTracer;
  /** Aborted at the stop deadline: nothing more is taken on. */
  deadline: AbortSignal;
}

/**
 * The one place an entry is handled, from delivery to its freed slot:
 * parse, gates (replayed for another group, too many deliveries), the
 * handler under its timeout, outputs encoded and handed to the commit
 * batcher with the ack.
 *
 * Written with callbacks instead of async frames: the happy path (handler
 * resolves, commit applied at first attempt) costs the handler's promise
 * and one shared pipeline per batch, nothing more per entry — async
 * functions and their promises were the larger part of the per-entry cost.
 * Anything unusual hands over to async code (runSlow), which holds the slot
 * until it is done.
 */
export class Dispatcher {
  /** XADD's arguments before an output's fields: one array, so the script call can share it. */
  private readonly xaddOptions: readonly string[];

  constructor(private readonly ctx: DispatcherContext) {
    this.xaddOptions = xaddOptionsFor(ctx.settings.maxLen);
  }

  readonly dispatch: Dispatch = (stream, eventType, entryId, fields, deliveryCount) => {
    // A read or claim that returns after stopReading() is still dispatched:
    // Redis has delivered the entry to this consumer, and leaving it in our
    // PEL would strand it for CLAIM_IDLE_MS. The drain waits for it like any
    // other in-flight entry.
    if (this.ctx.deadline.aborted) {
      // Past the stop deadline nothing more is committed: it stays pending for another consumer.
      return;
    }
    const key = taskKey(stream, entryId);
    if (this.ctx.tasks.has(key)) {
      // Already being handled here (e.g. re-read after a group recreation).
      return;
    }
    const span = this.ctx.tracer.start(stream, entryId, deliveryCount, fields);
    const task = newTask(key, stream, eventType, entryId, fields, deliveryCount, span);
    this.ctx.tasks.add(task);
    try {
      this.handle(task);
    } catch (error) {
      this.onInternalError(task, error);
    }
  };

  /**
   * The handler runs under its timeout (enforced by the task table's sweep).
   * On timeout the entry counts as failed at once, but its slot stays taken
   * until the handler really settles, so concurrency stays a hard bound even
   * with handlers that ignore the signal.
   */
  private handle(task: Task): void {
    const { settings, deadLetters } = this.ctx;
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(task.fields, settings.maxEventBytes);
    } catch (error) {
      if (this.replayedForOthers(task, replayTarget(task.fields))) {
        return;
      }
      this.runSlow(task, () => deadLetters.deadLetter(task, 'malformed', errorText(error)));
      return;
    }
    if (envelope.replayfor !== undefined && this.replayedForOthers(task, envelope.replayfor)) {
      return;
    }
    if (task.deliveryCount > settings.maxDeliveries) {
      // Earlier deliveries never reported back (their consumer died mid-handler).
      const reason = `delivered ${task.deliveryCount} times without completing (MAX_DELIVERIES ${settings.maxDeliveries})`;
      this.runSlow(task, () => deadLetters.deadLetter(task, 'max_deliveries', reason));
      return;
    }
    const message: InboundMessage = {
      stream: task.stream,
      entryId: task.entryId,
      eventType: task.eventType,
      envelope,
      deliveryCount: task.deliveryCount,
      get signal() {
        return taskSignal(task);
      },
      span: task.span,
    };
    task.handlerStartedAt = Date.now();
    task.handlerRunning = true;
    let running: Promise<HandlerResult>;
    try {
      running = Promise.resolve(this.ctx.spec.handler(message));
    } catch (error) {
      // A synchronous throw still counts as a handler failure.
      const failure = error as Error;
      running = Promise.reject(failure);
    }
    let timedOut = false;
    task.expire = (error) => {
      timedOut = true;
      // Hold the slot until the handler gives up; its own result no longer matters.
      this.runSlow(task, async () => {
        await deadLetters.handlerFailed(task, error);
        if (task.handlerRunning) {
          await new Promise<void>((resolve) => {
            task.onSettled = resolve;
          });
        }
      });
    };
    running.then(
      (result) => {
        handlerSettled(task);
        if (!timedOut) {
          try {
            this.onResult(task, envelope, result);
          } catch (error) {
            this.onInternalError(task, error);
          }
        }
      },
      (error: unknown) => {
        handlerSettled(task);
        if (!timedOut) {
          this.runSlow(task, () => deadLetters.handlerFailed(task, error));
        }
      },
    );
  }

  /**
   * An entry `dlq replay` re-drove for another group reading the same
   * stream: acknowledged here without running the handler.
   */
  private replayedForOthers(task: Task, target: string | undefined): boolean {
    if (target === undefined || target === this.ctx.spec.group) {
      return false;
    }
    this.ctx.outcomes.replaySkipped(task, target);
    this.commitFirst(task, undefined, 'skipped');
    return true;
  }

  private onResult(task: Task, envelope: Envelope, result: HandlerResult): void {
    if (result.outcome === 'skipped') {
      this.commitFirst(task, undefined, 'skipped');
      return;
    }
    const { spec, settings, topology } = this.ctx;
    const outputs = result.outputs;
    const encoded = encodeOutputs(
      outputs,
      { worker: spec.worker, cause: envelope, traceparent: task.span.traceparent },
      settings.maxEventBytes,
    );
    if ('tooLarge' in encoded) {
      this.runSlow(task, () => this.ctx.deadLetters.deadLetter(task, 'invalid', encoded.tooLarge));
      return;
    }
    const writes = outputWrites(
      topology,
      this.xaddOptions,
      outputs,
      encoded.fieldLists,
      result.marks,
    );
    this.commitFirst(task, writes, 'ok');
  }

  /**
   * First commit attempt of a handled entry, without a promise: queued into
   * the shared MULTI, finished in its callback. A lost or refused commit,
   * a lost claim or a connection not ready go to the committer, which knows
   * how to check and retry.
   */
  private commitFirst(task: Task, writes: CommitWrites | undefined, outcome: CommitOutcome): void {
    const { committer, outcomes } = this.ctx;
    if (!committer.mayQueue(task)) {
      this.recoverCommit(task, writes, outcome);
      return;
    }
    this.ctx.batcher.add(task, writes, (applied, error) => {
      if (!applied) {
        // Claim lost while queued: nothing was sent; the committer abandons it.
        const failed = error instanceof ClaimLostError ? undefined : { error };
        this.recoverCommit(task, writes, outcome, failed);
        return;
      }
      try {
        committer.applied(task, error);
        outcomes.committed(task, outcome);
      } catch (bug) {
        this.onInternalError(task, bug);
        return;
      }
      this.free(task);
    });
  }

  /** After the first commit attempt failed: the committer retries it with the usual checks. */
  private recoverCommit(
    task: Task,
    writes: CommitWrites | undefined,
    outcome: CommitOutcome,
    failed?: { error: unknown },
  ): void {
    this.runSlow(task, async () => {
      if (await this.ctx.committer.commit(task, writes, failed)) {
        this.ctx.outcomes.committed(task, outcome);
      }
    });
  }

  /**
   * Runs one of the rare paths (dead letter, handler failure or timeout,
   * commit recovery) as ordinary async code, then frees the entry's slot.
   */
  private runSlow(task: Task, work: () => Promise<void>): void {
    work().then(
      () => this.free(task),
      (error: unknown) => this.onInternalError(task, error),
    );
  }

  /** A bug in the runtime itself: counted and logged; the entry stays pending. */
  private onInternalError(task: Task, error: unknown): void {
    this.ctx.outcomes.internalError(task, error);
    this.free(task);
  }

  /** The entry is done here, whatever became of it: its slot is freed and its span ends. */
  private free(task: Task): void {
    this.ctx.tasks.release(task);
    task.span.end();
  }
}

function handlerSettled(task: Task): void {
  task.handlerRunning = false;
  task.timedOut = false;
  task.expire = undefined;
  task.onSettled?.();
}
