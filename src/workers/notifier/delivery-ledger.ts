import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../redis/connection-factory';
import type { NotifyTargetResult } from '../../domain/deployment';

/** Ledger field marking the notification as counted; target ids are hex, so it cannot clash. */
const COUNTED_FIELD = 'counted';

/**
 * The Notifier's memory of what it already did for one terminal event: a
 * hash at `StreamTopology.deliveryKey(eventId)`, field = target id, value =
 * the target's final result. A redelivered event (crash after sending,
 * before the ack) reuses these results instead of sending again.
 *
 * A first delivery costs two round trips: the HGETALL before sending and
 * one MULTI per target after (in parallel), which also counts the event.
 */
export class DeliveryLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyOf: (terminalEventId: string) => string,
    private readonly ttlMs: number,
  ) {}

  /** Results already recorded for this event, by target id. */
  async recorded(terminalEventId: string): Promise<Map<string, NotifyTargetResult>> {
    const raw = await this.redis.hgetall(this.keyOf(terminalEventId));
    const out = new Map<string, NotifyTargetResult>();
    for (const [field, value] of Object.entries(raw)) {
      if (field === COUNTED_FIELD) {
        continue;
      }
      try {
        out.set(field, JSON.parse(value) as NotifyTargetResult);
      } catch {
        // An unreadable record counts as not delivered; at worst one resend.
      }
    }
    return out;
  }

  /**
   * Records a target's final result and, in the same MULTI (one round trip),
   * marks the event counted: true when this write is the one that marked it,
   * so the first result recorded for a terminal event counts it, once, with
   * no round trip of its own. The TTL bounds how long redeliveries are
   * recognised.
   */
  async record(
    terminalEventId: string,
    target: string,
    result: NotifyTargetResult,
  ): Promise<boolean> {
    const key = this.keyOf(terminalEventId);
    const replies = await this.exec(
      this.redis
        .multi()
        .hset(key, target, JSON.stringify(result))
        .hsetnx(key, COUNTED_FIELD, '1')
        .pexpire(key, this.ttlMs),
    );
    return replies[1]?.[1] === 1;
  }

  /**
   * True on the first call for a terminal event (within the TTL), or when no
   * `record` has marked it, false on every later one, so that a redelivered
   * or duplicated terminal event counts once in printery_deployments_total.
   * For a handling that records nothing (every target settled before, or
   * none at all).
   */
  async countOnce(terminalEventId: string): Promise<boolean> {
    const key = this.keyOf(terminalEventId);
    const replies = await this.exec(
      this.redis.multi().hsetnx(key, COUNTED_FIELD, '1').pexpire(key, this.ttlMs),
    );
    return replies[0]?.[1] === 1;
  }

  private async exec(multi: ChainableCommander): Promise<Array<[Error | null, unknown]>> {
    const replies = (await multi.exec()) ?? [];
    const failed = replies.find(([error]) => error !== null);
    if (failed?.[0]) {
      throw failed[0];
    }
    return replies;
  }
}
