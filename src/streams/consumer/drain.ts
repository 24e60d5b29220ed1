import type { CommandConnection } from './command-connection';
import type { ConsumerGroups } from './consumer-groups';
import { type ConsumerLogger, StopDeadlineError } from './contracts';
import type { ReadConnection } from './read-connection';
import { settledWithin } from './redis-wait';
import { abortTask } from './task';
import type { TaskTable } from './task-table';

/** At most this much of a stop's time is kept for closing (clean-up, QUIT, socket end). */
const MAX_CLOSE_BUDGET_MS = 1000;
/** Closing aims this much before the deadline, for timer and socket-close lateness. */
const CLOSE_SLACK_MS = 20;

/** The parts a stop goes through, in order. */
export interface DrainContext {
  worker: string;
  log: ConsumerLogger;
  /** Stops reading and claiming at once (StreamConsumer.stopReading). */
  stopReading(): void;
  /** The read loop's run, settled once it has returned (undefined before start). */
  running: Promise<void> | undefined;
  tasks: Pick<TaskTable, 'size' | 'values' | 'waitUntilEmpty' | 'stopSweep' | 'zeroGauge'>;
  /** Aborted at the deadline: commits and waits give up, handlers are told to stop. */
  deadline: AbortController;
  keeper: { stop(): void };
  groups: Pick<ConsumerGroups, 'leave'>;
  commands: Pick<CommandConnection, 'quit' | 'untilEnded'>;
  reads: Pick<ReadConnection, 'disconnect' | 'untilEnded'>;
}

/**
 * Stops reading at once, lets in-flight handlers finish until `deadline`
 * (epoch ms), commits what finished and leaves the rest pending for another
 * consumer, then closes both connections, all by `deadline`.
 */
export async function drain(ctx: DrainContext, deadline: number): Promise<void> {
  const { worker, log, tasks } = ctx;
  const startedAt = Date.now();
  // Closing takes round trips too: reserve a slice of the time left for it
  // so the whole stop, not just the wait for handlers, ends by `deadline`
  // (the supervisor reports a stop that overruns as a hang).
  const closeBudget = Math.min(MAX_CLOSE_BUDGET_MS, Math.floor((deadline - startedAt) / 4));
  const tasksDeadline = deadline - Math.max(0, closeBudget);
  ctx.stopReading();
  // The loop may be inside a claim round on the command connection.
  await settledWithin(ctx.running, tasksDeadline - Date.now());
  if (tasks.size > 0) {
    log.info(
      { event: 'consumer.draining', worker, inFlight: tasks.size },
      'waiting for in-flight handlers',
    );
    await tasks.waitUntilEmpty(tasksDeadline);
  }
  const left = [...tasks.values()];
  ctx.deadline.abort(new StopDeadlineError('stop deadline reached'));
  for (const task of left) {
    abortTask(task, new StopDeadlineError('stop deadline reached'));
  }
  if (left.length > 0) {
    log.warn(
      {
        event: 'consumer.drain_timeout',
        worker,
        leftPending: left.length,
        entryIds: left.map((t) => t.entryId),
      },
      'stop deadline reached; unfinished entries stay pending for another consumer',
    );
  }
  ctx.keeper.stop();
  tasks.stopSweep();
  await close(ctx, left.length === 0, deadline);
  tasks.zeroGauge();
  log.info(
    { event: 'consumer.stopped', worker, drainMs: Date.now() - startedAt },
    'stream consumer stopped',
  );
}

/**
 * Leaves the groups when the consumer owns nothing, then closes both
 * connections, all by `deadline`: the clean-up is skipped when time is
 * short, and the command connection is dropped rather than QUIT when there
 * is no time for a reply.
 */
async function close(ctx: DrainContext, drained: boolean, deadline: number): Promise<void> {
  // Timers fire late by a few ms and the socket's end takes a tick: aim a little early.
  const left = (): number => deadline - CLOSE_SLACK_MS - Date.now();
  if (drained) {
    await ctx.groups.leave(left);
  }
  await ctx.commands.quit(Math.min(1000, left()));
  // Normally closed when reading stopped already; not when the deadline came first.
  ctx.reads.disconnect();
  await Promise.all([
    ctx.commands.untilEnded(Math.min(1000, left())),
    ctx.reads.untilEnded(Math.min(1000, left())),
  ]);
}
