import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisModule } from '../redis/redis.module';
import { StreamConsumerFactory } from './stream-consumer.factory';
import { StreamsStartup } from './streams-startup.service';
import { StreamTopology } from './topology';

/**
 * The stream runtime: startup checks and consumer groups (StreamsStartup),
 * the StreamConsumerFactory workers build their consumers with, and the
 * StreamTopology. Importing RedisModule keeps Redis connected before the
 * startup checks run.
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
  ],
  exports: [StreamTopology, StreamConsumerFactory],
})
export class StreamsModule {}
