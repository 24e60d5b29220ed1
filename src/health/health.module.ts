import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { RedisHealthIndicator } from './redis.health';
import { WorkerHealthIndicator } from './worker.health';

/** /health, /health/live, /health/ready; reads the global SupervisorService. */
@Module({
  // Terminus's own logger would print every failed probe as an error; our
  // controller's result is the signal, and the supervisor logs transitions.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, WorkerHealthIndicator],
})
export class HealthModule {}
