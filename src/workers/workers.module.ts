import { Module } from '@nestjs/common';
import { WORKERS, type WorkerLifecycle } from '../lifecycle/worker-lifecycle';
import { DependencyWorker } from './dependency/dependency.worker';
import { HealthWorker } from './health/health.worker';
import { NotifierWorker } from './notifier/notifier.worker';
import { ValidatorWorker } from './validator/validator.worker';

/**
 * Registers every worker and the ordered WORKERS list the supervisor runs.
 * Adding a worker: one provider here and one entry in the list.
 */
const WORKER_CLASSES = [ValidatorWorker, DependencyWorker, HealthWorker, NotifierWorker];

@Module({
  providers: [
    ...WORKER_CLASSES,
    {
      provide: WORKERS,
      inject: WORKER_CLASSES,
      useFactory: (...workers: WorkerLifecycle[]): WorkerLifecycle[] => workers,
    },
  ],
  exports: [WORKERS],
})
export class WorkersModule {}
