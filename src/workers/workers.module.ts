import { Module } from '@nestjs/common';
import { WORKERS, type WorkerLifecycle } from '../supervisor/worker-lifecycle';

/**
 * Registers every worker and the ordered WORKERS list the supervisor runs.
 * Adding a worker: one provider here and one entry in the list.
 */
@Module({
  providers: [
    {
      provide: WORKERS,
      useFactory: (): WorkerLifecycle[] => [],
    },
  ],
  exports: [WORKERS],
})
export class WorkersModule {}
