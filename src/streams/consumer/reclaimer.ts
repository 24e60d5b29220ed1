import type { ConsumerSpec } from '../handler';
import type { Commands } from './command-connection';
import type { ConsumerScope } from './contracts';
import type { Dispatch } from './dispatcher';
import type { Outcomes } from './outcomes';
import { isNoGroupError } from './redis-wait';
import { type RawEntry, taskKey } from './task';
import type { TaskTable } from './task-table';

/** What the reclaimer needs to claim idle entries and hand them on. */
export interface ReclaimerContext extends ConsumerScope {
  streams: ConsumerSpec['streams'];
  claimIdleMs: number;
  commands: Pick<Commands, 'client' | 'run'>;
  tasks: Pick<TaskTable, 'freeSlots' | 'has'>;
  outcomes: Pick<Outcomes, 'countError' | 'deletedWhilePending'>;
  dispatch: Dispatch;
}

/**
 * Redelivery: XAUTOCLAIM of entries idle for CLAIM_IDLE_MS (their consumer
 * died or lost its connection), run from the read loop so claims never race
 * the read for slots. Owns the XAUTOCLAIM cursor of each stream. Delivery
 * counts come from Redis, so MAX_DELIVERIES holds across restarts.
 */
export class Reclaimer {
  private readonly cursors = new Map<string, string>();

  constructor(private readonly ctx: ReclaimerContext) {}

  /** Starts the stream's scan from the beginning again (its group was recreated). */
  forget(stream: string): void {
    this.cursors.delete(stream);
  }

  /**
   * XAUTOCLAIM entries idle for CLAIM_IDLE_MS, up to the free slots; none
   * once `stopped`. True when a scan stopped short of the end of its PEL:
   * more idle entries may wait there, and the read loop claims again as soon
   * as a slot is free rather than a claim interval later.
   */
  async claimIdle(stopped: AbortSignal): Promise<boolean> {
    const { worker, group, commands, tasks } = this.ctx;
    let more = false;
    for (const { stream, eventType } of this.ctx.streams) {
      const free = tasks.freeSlots;
      if (free <= 0 || stopped.aborted) {
        return true;
      }
      let reply: unknown;
      try {
        reply = await commands.run(
          commands.client.call(
            'XAUTOCLAIM',
            stream,
            group,
            this.ctx.consumerName,
            String(this.ctx.claimIdleMs),
            this.cursors.get(stream) ?? '0-0',
            'COUNT',
            String(free),
          ),
        );
      } catch (error) {
        if (isNoGroupError(error)) {
          throw error;
        }
        this.ctx.outcomes.countError('redis');
        this.ctx.log.warn(
          { event: 'consumer.claim_failed', worker, stream, err: error },
          'XAUTOCLAIM failed',
        );
        continue;
      }
      const [cursor, entries, deletedIds] = reply as [string, RawEntry[], string[] | undefined];
      this.cursors.set(stream, cursor);
      more ||= cursor !== '0-0';
      // Redis 7 lists entries deleted while pending separately; 6.2 returns them with nil fields.
      const deleted = [
        ...(deletedIds ?? []),
        ...entries.filter(([, f]) => f === null).map(([id]) => id),
      ];
      const live = entries.filter(
        (entry): entry is [string, string[]] =>
          entry[1] !== null && !tasks.has(taskKey(stream, entry[0])),
      );
      if (deleted.length > 0) {
        await this.ackDeleted(stream, deleted);
      }
      if (live.length === 0) {
        continue;
      }
      const counts = await this.deliveryCounts(
        stream,
        live.map(([id]) => id),
      );
      for (const [entryId, fields] of live) {
        const deliveryCount = counts.get(entryId);
        if (deliveryCount === undefined) {
          // Acked by its previous owner between the claim and now.
          continue;
        }
        this.ctx.log.info(
          {
            event: 'message.claimed',
            worker,
            stream,
            entryId,
            deliveryCount,
            consumer: this.ctx.consumerName,
          },
          'idle entry claimed for redelivery',
        );
        this.ctx.dispatch(stream, eventType, entryId, fields, deliveryCount);
      }
    }
    return more;
  }

  /**
   * Delivery counts of our own pending entries, straight from the PEL, one
   * exact XPENDING per id (pipelined): a range query with COUNT could stop
   * short at other pending entries of ours and leave claimed ids uncounted.
   * An id missing from the result was acked or taken by another consumer.
   */
  private async deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const { commands, group, consumerName } = this.ctx;
    const pipeline = commands.client.pipeline();
    for (const id of ids) {
      pipeline.call('XPENDING', stream, group, id, id, '1');
    }
    const replies = (await commands.run(pipeline.exec())) ?? [];
    const failed = replies.find(([error]) => error)?.[0];
    if (failed) {
      // NOGROUP must reach the read loop, which recreates the group.
      throw failed;
    }
    const counts = new Map<string, number>();
    replies.forEach(([, rows], index) => {
      const row = (rows as Array<[string, string, number, number]> | null)?.[0];
      if (row && row[1] === consumerName) {
        counts.set(ids[index] as string, Number(row[3]));
      }
    });
    return counts;
  }

  /** Entries deleted from the stream while pending can never be handled: ack and count them. */
  private async ackDeleted(stream: string, ids: string[]): Promise<void> {
    const { commands, group } = this.ctx;
    await commands.run(commands.client.xack(stream, group, ...ids));
    this.ctx.outcomes.deletedWhilePending(stream, ids);
  }
}
