import { reconnectDelay } from '../../redis/redis-options';
import { compareStreamIds } from '../stream-ids';
import type { Commands } from './command-connection';
import type { CommitBatcher } from './commit-batcher';
import { type CommitWrites, queuedCommit } from './commit-layout';
import { ClaimLostError, type ConsumerScope } from './contracts';
import type { Outcomes } from './outcomes';
import { passesByItself, sleep } from './redis-wait';
import type { Task } from './task';

/**
 * Commits Redis may refuse before the worker reports itself failed: the
 * same refusal this many times in a row is a setting or permission to fix
 * (an ACL denying the output stream), not a blip.
 */
export const MAX_COMMIT_REFUSALS = 5;

/**
 * Whether Redis itself answered the commit with an error that will not pass
 * by itself (NOPERM, OOM, a discarded MULTI), as opposed to a lost
 * connection or a timeout, which say nothing about the next attempt.
 */
export function refusedByRedis(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'ReplyError') {
    return false;
  }
  const previous = (error as Error & { previousErrors?: Error[] }).previousErrors ?? [];
  return [error, ...previous].every((e) => !passesByItself(e));
}

/** Who the committer is and where it commits. */
export interface CommitterContext extends ConsumerScope {
  commands: Pick<Commands, 'client' | 'ready' | 'run' | 'waitReady'>;
  batcher: Pick<CommitBatcher, 'send'>;
  outcomes: Pick<Outcomes, 'countError'>;
  /** Highest committed id per stream; lives in the worker's counters so it outlives this consumer. */
  watermarks: Map<string, string>;
  /** Aborted at the stop deadline: retries and waits give up. */
  deadline: AbortSignal;
  /** Reports the worker failed (its onFailure): the supervisor restarts it, or the process exits 1. */
  fail: (error: Error) => void;
}

/**
 * Sees a commit through once its first attempt has failed, or for the slow
 * paths (dead letters): retries, checks ownership before each retry, gives
 * up on an entry another consumer owns, and moves the worker's watermark.
 */
export class Committer {
  constructor(private readonly ctx: CommitterContext) {}

  /**
   * Whether a first attempt may go straight into the shared MULTI: not when
   * the claim is lost or the connection is not ready, which commit() knows
   * how to handle.
   */
  mayQueue(task: Task): boolean {
    return !task.claimLost && this.ctx.commands.ready;
  }

  /** The highest id this worker has committed on `stream`, if any. */
  watermark(stream: string): string | undefined {
    return this.ctx.watermarks.get(stream);
  }

  /**
   * Writes `writes` and the XACK of the entry in one atomic commit. Retries until it
   * is known to be applied, the entry was taken over by another consumer, or
   * the stop deadline passes (then it stays pending). Never applies twice:
   * after a lost reply it first asks XPENDING whether the entry is still ours.
   * An entry the keep-alive found taken by another consumer is not committed.
   * The first attempt does not ask XPENDING (a round trip per entry): a steal
   * after the last keep-alive round can still lead to a second commit, which
   * at-least-once allows.
   *
   * `failed` is a first attempt already made through the shared MULTI and
   * its error: handled exactly as if this loop had made it.
   */
  async commit(
    task: Task,
    writes: CommitWrites | undefined,
    failed?: { error: unknown },
  ): Promise<boolean> {
    const { commands, deadline } = this.ctx;
    let refusals = 0;
    for (let attempt = 1; ; attempt += 1) {
      const replayed = attempt === 1 ? failed : undefined;
      if (!replayed && task.claimLost) {
        // Another consumer owns the entry now and will commit it: writing our
        // outputs or acking it here would publish it twice.
        this.abandoned(task, 'entry was claimed by another consumer before it could be committed');
        return false;
      }
      try {
        if (replayed) {
          throw replayed.error;
        }
        if (!commands.ready) {
          await commands.waitReady(deadline);
        }
        if (attempt > 1) {
          const owner = await this.pendingOwner(task);
          if (owner === undefined) {
            // Not pending any more: the earlier attempt was applied (a commit is atomic).
            this.noteCommitted(task);
            return true;
          }
          if (owner !== this.ctx.consumerName) {
            this.abandoned(
              task,
              'entry was claimed by another consumer before it could be committed',
              owner,
            );
            return false;
          }
        }
        const failedInside = await this.sendAlone(task, writes);
        this.applied(task, failedInside);
        return true;
      } catch (error) {
        if (deadline.aborted) {
          this.abandoned(task, 'stop deadline passed before the commit; entry stays pending');
          return false;
        }
        if (error instanceof ClaimLostError) {
          // Not sent; the next round abandons it.
          continue;
        }
        this.ctx.outcomes.countError('commit');
        refusals = refusedByRedis(error) ? refusals + 1 : 0;
        if (refusals >= MAX_COMMIT_REFUSALS) {
          // Retrying for ever would hold this slot until the process stops.
          this.refused(task, error as Error, refusals);
          return false;
        }
        this.tell('warn', 'message.commit_retry', task, 'commit failed; checking and retrying', {
          attempt,
          err: error,
        });
        try {
          await sleep(reconnectDelay(attempt), deadline);
        } catch {
          // Deadline: the next iteration gives up.
        }
      }
    }
  }

  /** After an applied commit: reports a command that failed inside it, moves the watermark. */
  applied(task: Task, failedInside: unknown): void {
    if (failedInside) {
      // A runtime error inside MULTI does not roll the rest back; it is a
      // wiring bug (e.g. a key of the wrong type), not worth retrying.
      this.ctx.outcomes.countError('commit');
      this.tell('error', 'message.commit_partial', task, 'a command inside the commit failed', {
        err: failedInside,
      });
    }
    this.noteCommitted(task);
  }

  /**
   * One entry's commit in a batch of its own, as a promise, for the async
   * paths (retries, dead letters): resolves once applied, with the command
   * that failed inside the MULTI if any. Not shared, so an entry whose
   * writes Redis refuses outright (EXECABORT, e.g. an ACL denying the
   * dead-letter stream) never holds back the others' commits.
   */
  private sendAlone(task: Task, writes: CommitWrites | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.ctx.batcher.send([
        queuedCommit(task, writes, (applied, error) => {
          if (applied) {
            resolve(error);
          } else {
            const failure = error as Error;
            reject(failure);
          }
        }),
      ]);
    });
  }

  /** Owner of the entry in the group's PEL, or undefined when it is no longer pending. */
  private async pendingOwner(task: Task): Promise<string | undefined> {
    const { commands, group } = this.ctx;
    const rows = (await commands.run(
      commands.client.call('XPENDING', task.stream, group, task.entryId, task.entryId, '1'),
    )) as Array<[string, string, number, number]>;
    return rows[0]?.[1];
  }

  private noteCommitted(task: Task): void {
    const watermarks = this.ctx.watermarks;
    const last = watermarks.get(task.stream);
    if (last === undefined || compareStreamIds(task.entryId, last) > 0) {
      watermarks.set(task.stream, task.entryId);
    }
  }

  /** Gives the entry up (it stays pending) and fails the worker, with Redis's answer as the reason. */
  private refused(task: Task, error: Error, attempts: number): void {
    task.span.failed('abandoned', `Redis refused the commit: ${error.message}`, 'commit_refused');
    this.tell(
      'error',
      'message.commit_refused',
      task,
      'Redis refused the commit; the worker fails',
      {
        attempts,
        err: error,
      },
    );
    this.ctx.fail(
      new Error(
        `Redis refused the commit of ${task.stream} ${task.entryId} ${attempts} times: ${error.message}`,
      ),
    );
  }

  private abandoned(task: Task, message: string, owner?: string): void {
    task.span.failed('abandoned', message, 'not_committed');
    this.tell('warn', 'message.commit_abandoned', task, message, owner ? { owner } : {});
  }

  private tell(
    level: 'warn' | 'error',
    event: string,
    task: Task,
    message: string,
    extra: Record<string, unknown>,
  ): void {
    const { worker, log } = this.ctx;
    log[level]({ event, worker, stream: task.stream, entryId: task.entryId, ...extra }, message);
  }
}
