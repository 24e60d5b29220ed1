import type Redis from 'ioredis';
import type { NotifyTargetResult } from '../../domain/deployment';

/**
 * The Notifier's memory of what it already did for one terminal event: a
 * hash at `StreamTopology.deliveryKey(eventId)`, field = target id, value =
 * the target's final result. A redelivered event (crash after sending,
 * before the ack) reuses these results instead of sending again.
 */
export class DeliveryLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (terminalEventId: string) => string,
    private readonly ttlMs: number,
  ) {}

  /** Results already recorded for this event, by target id. */
  async recorded(terminalEventId: string): Promise<Map<string, NotifyTargetResult>> {
    const raw = await this.redis.hgetall(this.keyOf(terminalEventId));
    const out = new Map<string, NotifyTargetResult>();
    for (const [field, value] of Object.entries(raw)) {
      try {
        out.set(field, JSON.parse(value) as NotifyTargetResult);
      } catch {
        // An unreadable record counts as not delivered; at worst one resend.
      }
    }
    return out;
  }

  /** Records a target's final result; the TTL bounds how long redeliveries are recognised. */
  async record(terminalEventId: string, target: string, result: NotifyTargetResult): Promise<void> {
    const key = this.keyOf(terminalEventId);
    const replies = await this.redis
      .multi()
      .hset(key, target, JSON.stringify(result))
      .pexpire(key, this.ttlMs)
      .exec();
    const failed = replies?.find(([error]) => error !== null);
    if (failed?.[0]) {
      throw failed[0];
    }
  }
}
