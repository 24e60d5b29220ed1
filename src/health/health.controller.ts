import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisHealthIndicator } from './redis.health';
import { WorkerHealthIndicator } from './worker.health';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
    private readonly workers: WorkerHealthIndicator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Liveness: the event loop answers. Nothing else, so a Redis outage never gets the pod killed. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get()
  @HealthCheck()
  root() {
    return this.readiness();
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.readiness();
  }

  private readiness() {
    const checks: HealthIndicatorFunction[] = [
      () => this.redis.check('redis'),
      ...this.config.supervisor.workers.map((name) => () => this.workers.check(name)),
    ];
    return this.health.check(checks);
  }
}
