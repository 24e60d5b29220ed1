import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { METRIC } from '../metrics/metric-names';
import { RedisService } from './redis.service';

/** Longest a scrape waits for Redis's answer before reporting it down. */
const PING_TIMEOUT_MS = 1000;

/**
 * printery_redis_up: whether the service's Redis answers a PING now, the
 * same check as the `redis` indicator of /health/ready. Read at scrape time,
 * so an alert sees an outage even while every worker is still waiting.
 */
export const redisUpGaugeProvider = makeGaugeProvider({
  name: METRIC.redisUp,
  help: "1 when the service's Redis answers PING within 1 s, else 0",
  inject: [RedisService],
  async collect(this: Gauge, redis: RedisService) {
    try {
      await redis.ping(PING_TIMEOUT_MS);
      this.set(1);
    } catch {
      this.set(0);
    }
  },
});
