import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisModule } from '../redis/redis.module';
import { CounterSeeds } from './counter-seeds';
import { StreamConsumerFactory } from './stream-consumer.factory';
import { StreamMetrics, streamGaugeProviders } from './stream-metrics';
import { StreamsStartup } from './streams-startup.service';
import { StreamTopology } from './topology';

/**
 * The stream runtime: startup checks and consumer groups (StreamsStartup),
 * the StreamConsumerFactory workers build their consumers with, the
 * StreamTopology, the stream gauges read at scrape time (StreamMetrics) and
 * the runtime's counters seeded at 0 (CounterSeeds). Importing RedisModule
 * keeps Redis connected before the startup checks run.
 */
@Global()
@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: StreamTopology,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new StreamTopology(config.streams.prefix, config.streams.registryPrefix),
    },
    StreamsStartup,
    StreamConsumerFactory,
    StreamMetrics,
    ...streamGaugeProviders,
    CounterSeeds,
  ],
  exports: [StreamTopology, StreamConsumerFactory, StreamMetrics],
})
export class StreamsModule {}
