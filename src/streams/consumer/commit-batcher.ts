import type { Commands } from './command-connection';
import {
  type CommitDone,
  type CommitWrites,
  type QueuedCommit,
  layOutBatch,
  queuedCommit,
} from './commit-layout';
import { type PipelineReplies, failedInside, readExec, splitDiscarded } from './commit-replies';
import { type CommitScript, SCRIPT_REFUSED, ScriptCall, commitScript } from './commit-script';
import { ClaimLostError, StopDeadlineError } from './contracts';
import type { Task } from './task';

/**
 * The shared commit: commits queued while the same poll phase runs go out
 * together, one round trip per batch — one call of the commit script
 * (commit-script.ts), or one MULTI…EXEC where the script cannot run
 * (commit-layout.ts lays either out, commit-replies.ts reads what came
 * back). If Redis refuses some commands it runs none of them; the batch
 * then goes as a MULTI, which says which entries were refused: those fail
 * with their own error and the others are sent again at once.
 */
export class CommitBatcher {
  private queue: QueuedCommit[] = [];
  /** Undefined once Redis has shown it cannot run the script (no Redis 7, no EVALSHA in the ACL). */
  private script: CommitScript | undefined;

  constructor(
    private readonly commands: Pick<Commands, 'client' | 'run'>,
    private readonly group: string,
    /** Aborted at the stop deadline: nothing more is sent. */
    private readonly deadline: AbortSignal,
    /** False: every batch as a MULTI (the script's fallback), as the MULTI's unit tests need. */
    useScript = true,
  ) {
    this.script = useScript ? commitScript(commands.client) : undefined;
  }

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
   * Sends `queued` as one script call (or one MULTI…EXEC) and calls each
   * entry's `done` with the outcome. Entries whose claim was lost, or all of
   * them once the stop deadline has passed, are not sent. When Redis refuses
   * some commands at queue time (NOPERM, OOM…) it discards the whole MULTI
   * (EXECABORT), so nothing was applied: the refused entries fail with their
   * own error and the others are sent again at once.
   */
  send(queued: QueuedCommit[], viaScript = this.script !== undefined): void {
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
    if (viaScript && this.script) {
      this.sendScript(batch, this.script);
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

  /**
   * The batch as one script call. A reply array is EXEC's; anything Redis
   * refused before running a command (the ACL's REFUSED, or an error reply
   * to the call: OOM, READONLY, NOPERM for EVALSHA…) sends the batch again
   * as a MULTI, which applies or refuses it with the MULTI's semantics. A
   * call Redis cannot take at all (an ERR: no Redis 7) or may never take
   * (the ACL denies EVAL/EVALSHA) turns the script off for good.
   */
  private sendScript(batch: QueuedCommit[], script: CommitScript): void {
    const call = new ScriptCall();
    try {
      layOutBatch(call, batch, this.group);
    } catch (error) {
      failAll(batch, error);
      return;
    }
    this.commands.run(script(call)).then(
      (reply) => {
        if (Array.isArray(reply)) {
          for (const item of batch) {
            item.done(true, failedInside(reply, item));
          }
        } else if (reply === SCRIPT_REFUSED) {
          this.send(batch, false);
        } else {
          failAll(batch, new Error(`unexpected reply from the commit script: ${String(reply)}`));
        }
      },
      (error: unknown) => {
        if (!(error instanceof Error) || error.name !== 'ReplyError') {
          // Lost connection or timeout: applied or not, the committer's XPENDING check tells.
          failAll(batch, error);
          return;
        }
        if (SCRIPT_UNAVAILABLE.test(error.message)) {
          this.script = undefined;
        }
        this.send(batch, false);
      },
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

/**
 * Answers to the script call that will not change: a Redis without shebang
 * scripts or acl_check_cmd (before 7.0) fails to compile it (ERR), an ACL
 * without EVAL/EVALSHA denies the command itself. A NOPERM for a key, OOM,
 * READONLY and the like are about this batch or this moment.
 */
const SCRIPT_UNAVAILABLE = /^(ERR\b|NOPERM\b.*'(eval|evalsha)' command)/;

function failAll(batch: readonly QueuedCommit[], error: unknown): void {
  for (const item of batch) {
    item.done(false, error);
  }
}
