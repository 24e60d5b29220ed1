import { Inject, Injectable, type Provider } from '@nestjs/common';
import { getToken } from '@willsoto/nestjs-prometheus';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { type GroupStats, readGroupStats } from './stream-stats';
import { StreamTopology } from './topology';
import { METRIC } from '../metrics/metric-names';

/**
 * Stream gauges are read from Redis when Prometheus scrapes, not on a timer:
 * one XLEN/XINFO pipeline per scrape, shared by the three gauges.
 */
@Injectable()
export class StreamMetrics {
  private readonly topology: StreamTopology;
  private inFlight: Promise<GroupStats[]> | undefined;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.topology = new StreamTopology(config.streams.prefix, config.streams.registryPrefix);
  }

  /** Current stats; concurrent callers within one scrape share a single read. */
  stats(): Promise<GroupStats[]> {
    if (!this.redis.isReady()) {
      return Promise.resolve([]);
    }
    this.inFlight ??= readGroupStats(this.redis.client, this.topology).finally(() => {
      setTimeout(() => {
        this.inFlight = undefined;
      }, 250).unref();
    });
    return this.inFlight;
  }
}

function streamGauge(
  name: string,
  help: string,
  labelNames: string[],
  fill: (gauge: Gauge, stats: GroupStats[]) => void,
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
            fill(this, await metrics.stats());
          } catch {
            // Redis unavailable: the gauges stay empty; readiness reports the outage.
          }
        },
      }),
  };
}

export const streamGaugeProviders: Provider[] = [
  streamGauge(
    METRIC.streamPending,
    'Entries delivered to the group but not acknowledged',
    ['stream', 'group'],
    (gauge, stats) => {
      for (const s of stats) {
        gauge.set({ stream: s.stream, group: s.group }, s.pending);
      }
    },
  ),
  streamGauge(
    METRIC.streamLag,
    'Entries not yet delivered to the group',
    ['stream', 'group'],
    (gauge, stats) => {
      for (const s of stats) {
        if (s.lag !== null) {
          gauge.set({ stream: s.stream, group: s.group }, s.lag);
        }
      }
    },
  ),
  streamGauge(METRIC.streamLength, 'Entries in the stream', ['stream'], (gauge, stats) => {
    for (const s of stats) {
      gauge.set({ stream: s.stream }, s.length);
    }
  }),
];
