import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SupervisorModule } from '../supervisor/supervisor.module';
import { HealthController } from './health.controller';
import { RedisHealthIndicator } from './redis.health';
import { WorkerHealthIndicator } from './worker.health';

@Module({
  // Terminus's own logger would print every failed probe as an error; our
  // controller's result is the signal, and the supervisor logs transitions.
  imports: [TerminusModule.forRoot({ logger: false }), SupervisorModule],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, WorkerHealthIndicator],
})
export class HealthModule {}
