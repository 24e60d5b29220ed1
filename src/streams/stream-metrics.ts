import { Inject, Injectable, type Provider } from '@nestjs/common';
import { getToken } from '@willsoto/nestjs-prometheus';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { type GroupGauges, type StreamSnapshot, readStreamSnapshot } from './stream-stats';
import { StreamTopology } from './topology';
import { METRIC } from '../metrics/metric-names';

const EMPTY: StreamSnapshot = { lengths: [], groups: [] };

/**
 * Stream gauges are read from Redis when Prometheus scrapes, not on a timer:
 * one pipeline per scrape, shared by the four gauges (and by /status).
 */
@Injectable()
export class StreamMetrics {
  private readonly topology: StreamTopology;
  private inFlight: Promise<StreamSnapshot> | undefined;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.topology = new StreamTopology(config.streams.prefix, config.streams.registryPrefix);
  }

  /** Current snapshot; concurrent callers within one scrape share a single read. */
  snapshot(): Promise<StreamSnapshot> {
    if (!this.redis.isReady()) {
      return Promise.resolve(EMPTY);
    }
    this.inFlight ??= readStreamSnapshot(this.redis.client, this.topology).finally(() => {
      setTimeout(() => {
        this.inFlight = undefined;
      }, 250).unref();
    });
    return this.inFlight;
  }

  /** Each worker's (stream, group): length, pending, lag, oldest pending age. */
  async stats(): Promise<GroupGauges[]> {
    return (await this.snapshot()).groups;
  }
}

function streamGauge(
  name: string,
  help: string,
  labelNames: string[],
  fill: (gauge: Gauge, snapshot: StreamSnapshot) => void,
): Provider {
  return {
    provide: getToken(name),
    inject: [StreamMetrics],
    useFactory: (metrics: StreamMetrics) =>
      new Gauge({
        name,
        help,
        labelNames,
        async collect() {
          this.reset();
          try {
            fill(this, await metrics.snapshot());
          } catch {
            // Redis unavailable: the gauges stay empty; printery_redis_up and readiness report it.
          }
        },
      }),
  };
}

/** Sets one series per existing (stream, group); a group not created yet has none. */
function perGroup(value: (group: GroupGauges) => number | null) {
  return (gauge: Gauge, { groups }: StreamSnapshot): void => {
    for (const group of groups) {
      const v = value(group);
      if (group.exists && v !== null) {
        gauge.set({ stream: group.stream, group: group.group }, v);
      }
    }
  };
}

export const streamGaugeProviders: Provider[] = [
  streamGauge(
    METRIC.streamPending,
    'Entries delivered to the group but not acknowledged',
    ['stream', 'group'],
    perGroup((group) => group.pending),
  ),
  streamGauge(
    METRIC.streamLag,
    'Entries not yet delivered to the group (Redis 7 and later)',
    ['stream', 'group'],
    perGroup((group) => group.lag),
  ),
  streamGauge(
    METRIC.streamOldestPendingAge,
    "Age of the group's oldest unacknowledged entry (by its id, on Redis's clock); 0 when none is pending",
    ['stream', 'group'],
    perGroup((group) => (group.oldestPendingAgeMs ?? 0) / 1000),
  ),
  streamGauge(
    METRIC.streamLength,
    'Entries in the stream; every stream the service reads or writes, the dead-letter stream included',
    ['stream'],
    (gauge, { lengths }) => {
      for (const { stream, length } of lengths) {
        gauge.set({ stream }, length);
      }
    },
  ),
];
