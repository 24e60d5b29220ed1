import { InvalidEntryError } from '../../errors/invalid-entry.error';
import { redactText } from '../../logging/redact';
import { type DeadLetterReason, encodeDeadLetter } from '../dead-letter';
import type { Committer } from './committer';
import { type ConsumerScope, HandlerTimeoutError } from './contracts';
import type { Outcomes } from './outcomes';
import { isRedisUnreachable, sleep } from './redis-wait';
import type { Task } from './task';

/** What dead-lettering needs to know and reach. */
export interface DeadLettersContext extends Pick<ConsumerScope, 'worker' | 'group'> {
  maxDeliveries: number;
  deadLetterStream: string;
  committer: Pick<Committer, 'commit'>;
  outcomes: Pick<Outcomes, 'handlerFailed' | 'retrying' | 'deadLettered'>;
  /** Aborted at the stop deadline. */
  deadline: AbortSignal;
}

/** The first hold of a slot whose handler could not reach Redis; doubled on each one that follows. */
const UNREACHABLE_HOLD_MS = 250;
/** At most this long, so a drain is not held up for long. */
const MAX_UNREACHABLE_HOLD_MS = 2000;
/** A quiet spell this long ends a streak of such failures. */
const STREAK_RESET_MS = 10_000;

/**
 * The failure paths of an entry: a handler that threw or timed out leaves
 * its entry pending for redelivery until MAX_DELIVERIES, then it is moved
 * to the dead-letter stream in the same MULTI as its XACK.
 */
export class DeadLetters {
  private unreachableStreak = 0;
  private lastUnreachableAt = 0;

  constructor(private readonly ctx: DeadLettersContext) {}

  /** The handler threw `error` (or timed out with a HandlerTimeoutError). */
  async handlerFailed(task: Task, error: unknown): Promise<void> {
    const { deadline, maxDeliveries, outcomes } = this.ctx;
    if (deadline.aborted) {
      // Aborted by the stop deadline: not the entry's fault; it stays pending.
      task.span.failed('abandoned', 'stop deadline passed; entry stays pending', 'stop_deadline');
      return;
    }
    if (error instanceof InvalidEntryError) {
      await this.deadLetter(task, 'invalid', errorText(error));
      return;
    }
    const timedOut = error instanceof HandlerTimeoutError;
    outcomes.handlerFailed(timedOut);
    if (task.deliveryCount >= maxDeliveries) {
      await this.deadLetter(task, 'max_deliveries', errorText(error));
      return;
    }
    outcomes.retrying(task, error, timedOut);
    if (isRedisUnreachable(error)) {
      await this.holdWhileUnreachable();
    }
  }

  /**
   * A handler that failed because its own Redis calls could not get through
   * (the handlers' connection still reconnecting after a failover while the
   * consumer's are back) holds its slot a while before it takes the next
   * entry. Freed at once, the slots ran through thousands of entries in
   * seconds in the chaos soak on Sentinel, each failing the same way and
   * left pending for a reclaim.
   */
  private async holdWhileUnreachable(): Promise<void> {
    const now = Date.now();
    if (now - this.lastUnreachableAt > STREAK_RESET_MS) {
      this.unreachableStreak = 0;
    }
    this.lastUnreachableAt = now;
    const holdMs = Math.min(
      MAX_UNREACHABLE_HOLD_MS,
      UNREACHABLE_HOLD_MS * 2 ** Math.min(this.unreachableStreak, 10),
    );
    this.unreachableStreak += 1;
    await sleep(holdMs, this.ctx.deadline).catch(() => undefined);
  }

  /** Moves the entry to the dead-letter stream with its XACK, in a MULTI of its own. */
  async deadLetter(task: Task, reason: DeadLetterReason, error: string): Promise<void> {
    const fields = encodeDeadLetter({
      stream: task.stream,
      id: task.entryId,
      group: this.ctx.group,
      worker: this.ctx.worker,
      reason,
      error: redactText(error),
      deliveryCount: task.deliveryCount,
      fields: task.fields,
      time: new Date().toISOString(),
    });
    // Never trimmed: STREAM_MAXLEN must not evict a poison entry before an operator sees it.
    const committed = await this.ctx.committer.commit(task, (multi) => {
      multi.xadd(this.ctx.deadLetterStream, '*', ...fields);
    });
    if (committed) {
      this.ctx.outcomes.deadLettered(task, reason, error);
    }
  }
}

/** The reason recorded for an error: InvalidEntryError's message, else `Name: message`. */
export function errorText(error: unknown): string {
  if (error instanceof InvalidEntryError) {
    // By contract its message is the reason itself.
    return error.message;
  }
  if (error instanceof Error) {
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  }
  return String(error);
}
