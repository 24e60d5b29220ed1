import { Controller, Get, Inject } from '@nestjs/common';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { APP_CONFIG, type AppConfig } from '../config';
import { redactText } from '../logging/redact';
import { RedisService } from '../redis/redis.service';
import { StreamMetrics } from '../streams/stream-metrics';
import { SupervisorService } from '../supervisor/supervisor.service';

const startedAt = Date.now();

/** GET /status: the live view an operator (or `printery-workers status --url`) reads. */
@Controller('status')
export class StatusController {
  constructor(
    private readonly supervisor: SupervisorService,
    private readonly streams: StreamMetrics,
    private readonly lifecycle: ProcessLifecycle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  @Get()
  async status() {
    let streams: unknown;
    let streamsError: string | undefined;
    try {
      streams = await this.streams.stats();
    } catch (error) {
      streamsError = redactText((error as Error).message);
    }
    return {
      service: 'printery-workers',
      environment: this.config.environment,
      mode: this.config.supervisor.supervised ? 'supervised' : 'standalone',
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      shuttingDown: this.lifecycle.shuttingDown,
      ready: this.supervisor.isReady(),
      redis: this.redis.whereabouts(),
      workers: this.supervisor.getStatus(),
      streams: streams ?? [],
      ...(streamsError ? { streamsError } : {}),
    };
  }
}
