import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { CLOCK, systemClock } from './clock';
import { RestartPolicy } from './restart-policy';
import { SupervisorMetrics } from './supervisor-metrics';
import { SupervisorService } from './supervisor.service';

/**
 * The supervisor over whatever module provides the `WORKERS` list. The
 * composition root (AppModule) passes WorkersModule in, so this layer never
 * imports the workers it runs. Global: the health and status endpoints read
 * the one SupervisorService.
 */
@Module({})
export class SupervisorModule {
  static forWorkers(workers: Type | DynamicModule): DynamicModule {
    return {
      module: SupervisorModule,
      global: true,
      imports: [workers],
      providers: [
        SupervisorService,
        SupervisorMetrics,
        {
          provide: RestartPolicy,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => new RestartPolicy(config.supervisor),
        },
        { provide: CLOCK, useValue: systemClock },
      ],
      exports: [SupervisorService],
    };
  }
}
