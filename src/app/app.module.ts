import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config';
import { HealthModule } from '../health/health.module';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { MetricsModule } from '../metrics/metrics.module';
import { RedisModule } from '../redis/redis.module';
import { StatusModule } from '../status/status.module';
import { StreamsModule } from '../streams/streams.module';
import { SupervisorModule } from '../supervisor/supervisor.module';
import { TRACING } from '../tracing/tracing';
import { WorkersModule } from '../workers/workers.module';
import { HttpLogModule } from './http-log.module';
import { TracingShutdown, tracingProvider } from './tracing.providers';

/**
 * The long-running service: workers under the supervisor plus the HTTP
 * endpoints. Built from an already validated config so nothing here can
 * start on a bad one.
 */
@Global()
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ ...config })],
        }),
        // The root logger behind every injected PinoLogger. No routes: the
        // request lines come from HttpLogModule, outside AsyncLocalStorage.
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
        HttpLogModule.forRoot(logger),
        // Bottom up: connections, the stream runtime and metrics, then the
        // workers under their supervisor, then the HTTP endpoints reading it.
        RedisModule,
        MetricsModule,
        StreamsModule,
        SupervisorModule.forWorkers(WorkersModule),
        HealthModule,
        StatusModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        ProcessLifecycle,
        tracingProvider(config, logger),
        TracingShutdown,
      ],
      exports: [APP_CONFIG, ProcessLifecycle, TRACING],
    };
  }
}
