import type { Commands } from './command-connection';
import type { ConsumerScope } from './contracts';
import type { Outcomes } from './outcomes';
import type { Task } from './task';
import type { TaskTable } from './task-table';

/**
 * Claim keep-alive that only touches entries still ours. A peer may have
 * reclaimed one legitimately (our connection was down longer than
 * CLAIM_IDLE_MS); a plain XCLAIM would steal it back and both would commit.
 * KEYS[1] stream; ARGV group, consumer, ids… Returns the ids no longer ours.
 */
const KEEP_ALIVE_SCRIPT = `
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local row = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if row and row[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
`;

/** What the claim keeper needs to keep its entries' claims fresh. */
export interface ClaimKeeperContext extends ConsumerScope {
  claimIdleMs: number;
  commands: Pick<Commands, 'client' | 'ready' | 'run'>;
  tasks: Pick<TaskTable, 'values'>;
  outcomes: Pick<Outcomes, 'countError'>;
}

/**
 * Long handlers re-claim their entries to themselves (XCLAIM … JUSTID)
 * every third of CLAIM_IDLE_MS so no peer steals them, but only while still
 * the owner: an entry a peer has reclaimed is marked `claimLost` and left
 * to the peer. Owns the keep-alive timer.
 */
export class ClaimKeeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: ClaimKeeperContext) {}

  private get intervalMs(): number {
    return Math.max(50, Math.floor(this.ctx.claimIdleMs / 3));
  }

  start(): void {
    this.timer = setInterval(() => void this.keepAlive(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Resets the idle time of entries whose handler has run for a while, so
   * XAUTOCLAIM elsewhere does not steal them. JUSTID leaves the delivery
   * count alone. A timed-out handler is not kept alive: its entry is free to go.
   * An entry another consumer took meanwhile is left to it (KEEP_ALIVE_SCRIPT)
   * and its keep-alive stops.
   */
  private async keepAlive(): Promise<void> {
    const { commands, worker } = this.ctx;
    if (!commands.ready) {
      return;
    }
    const threshold = Date.now() - this.intervalMs;
    const byStream = new Map<string, Task[]>();
    for (const task of this.ctx.tasks.values()) {
      if (
        task.handlerRunning &&
        !task.timedOut &&
        !task.claimLost &&
        task.handlerStartedAt !== undefined &&
        task.handlerStartedAt <= threshold
      ) {
        byStream.set(task.stream, [...(byStream.get(task.stream) ?? []), task]);
      }
    }
    for (const [stream, tasks] of byStream) {
      try {
        const lost = (await commands.run(
          commands.client.call(
            'EVAL',
            KEEP_ALIVE_SCRIPT,
            '1',
            stream,
            this.ctx.group,
            this.ctx.consumerName,
            ...tasks.map((t) => t.entryId),
          ),
        )) as string[] | null;
        for (const entryId of lost ?? []) {
          const task = tasks.find((t) => t.entryId === entryId);
          if (!task) {
            continue;
          }
          task.claimLost = true;
          this.ctx.log.warn(
            { event: 'message.claim_lost', worker, stream, entryId },
            'entry was claimed by another consumer while its handler ran; its result will not be committed here',
          );
        }
      } catch (error) {
        this.ctx.outcomes.countError('redis');
        this.ctx.log.debug(
          { event: 'message.keepalive_failed', worker, stream, err: error },
          'claim keep-alive failed',
        );
      }
    }
  }
}
