import type { Commands } from './command-connection';
import {
  type CommitDone,
  type CommitWrites,
  type QueuedCommit,
  layOutBatch,
  queuedCommit,
} from './commit-layout';
import { type PipelineReplies, failedInside, readExec, splitDiscarded } from './commit-replies';
import { ClaimLostError, StopDeadlineError } from './contracts';
import type { Task } from './task';

/**
 * The shared MULTI: commits queued while the same poll phase runs go out
 * together, one MULTI…EXEC and one round trip per batch (commit-layout.ts
 * lays it out, commit-replies.ts reads what came back). If Redis refuses
 * some commands of the MULTI it discards the whole of it; the entries it
 * refused fail with their own error and the others are sent again at once.
 */
export class CommitBatcher {
  private queue: QueuedCommit[] = [];

  constructor(
    private readonly commands: Pick<Commands, 'client' | 'run'>,
    private readonly group: string,
    /** Aborted at the stop deadline: nothing more is sent. */
    private readonly deadline: AbortSignal,
  ) {}

  /**
   * Queues the entry's writes and its XACK for the next flush. All commits
   * queued while the same microtask queue drains (a whole read's worth when
   * handlers answer at once, as after one reply from Redis) go out in one
   * MULTI…EXEC.
   */
  add(task: Task, writes: CommitWrites | undefined, done: CommitDone): void {
    this.queue.push(queuedCommit(task, writes, done));
    if (this.queue.length === 1) {
      // setImmediate gathers the commits of every callback in this poll
      // phase (handlers waking on HTTP replies or timers finish one callback
      // each); the read loop flushes earlier, just before it reads again.
      setImmediate(() => this.flush());
    }
  }

  /**
   * Sends what is queued. Also called by the read loop right before each
   * XREADGROUP, so the commits of the entries it just handed out are
   * written first instead of waiting for setImmediate behind the read and
   * the other sockets' callbacks (a tenth of a millisecond per stage at
   * low load).
   */
  flush(): void {
    if (this.queue.length === 0) {
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.send(batch);
  }

  /**
   * Sends `queued` as one MULTI…EXEC and calls each entry's `done` with the
   * outcome. Entries whose claim was lost, or all of them once the stop
   * deadline has passed, are not sent. When Redis refuses some commands at
   * queue time (NOPERM, OOM…) it discards the whole MULTI (EXECABORT), so
   * nothing was applied: the refused entries fail with their own error and
   * the others are sent again at once in a new MULTI.
   */
  send(queued: QueuedCommit[]): void {
    if (this.deadline.aborted) {
      const error = new StopDeadlineError('stop deadline reached before the commit was sent');
      failAll(queued, error);
      return;
    }
    const batch: QueuedCommit[] = [];
    for (const item of queued) {
      if (item.task.claimLost) {
        item.done(false, new ClaimLostError('entry was claimed by another consumer'));
      } else {
        batch.push(item);
      }
    }
    if (batch.length === 0) {
      return;
    }
    const pipeline = this.commands.client.pipeline();
    let execIndex: number;
    try {
      execIndex = layOutBatch(pipeline, batch, this.group);
    } catch (error) {
      // A bug in a writes callback: nothing is sent; every entry takes the retry path.
      failAll(batch, error);
      return;
    }
    this.commands.run(pipeline.exec()).then(
      (replies) => {
        const exec = readExec(replies, execIndex);
        switch (exec.kind) {
          case 'applied':
            for (const item of batch) {
              item.done(true, failedInside(exec.results, item));
            }
            return;
          case 'unknown':
            failAll(batch, exec.error);
            return;
          case 'discarded':
            this.resendInnocent(batch, replies ?? [], exec.error);
            return;
        }
      },
      (error: unknown) => failAll(batch, error),
    );
  }

  /** The shared MULTI was discarded: fails the entries Redis refused and sends the rest again. */
  private resendInnocent(batch: QueuedCommit[], replies: PipelineReplies, execAbort: Error): void {
    const split = splitDiscarded(batch, replies);
    if (!split) {
      // Nothing to single out (e.g. MULTI itself refused): all fail alike.
      failAll(batch, execAbort);
      return;
    }
    for (const { item, error } of split.refused) {
      item.done(false, error);
    }
    if (split.innocent.length > 0) {
      this.send(split.innocent);
    }
  }
}

function failAll(batch: readonly QueuedCommit[], error: unknown): void {
  for (const item of batch) {
    item.done(false, error);
  }
}
