import { Global, Module } from '@nestjs/common';
import { redisUpGaugeProvider } from './redis-metrics';
import { RedisService } from './redis.service';

@Global()
@Module({
  providers: [RedisService, redisUpGaugeProvider],
  exports: [RedisService],
})
export class RedisModule {}
