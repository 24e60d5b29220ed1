import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import type { WorkerName } from '../config';
import { METRIC } from '../metrics/metric-names';

/** Bounded `kind` label values of printery_worker_errors_total set by the supervisor. */
export type SupervisorErrorKind =
  | 'start_failed'
  | 'start_timeout'
  | 'crashed'
  | 'unhealthy'
  | 'gave_up'
  | 'stop_timeout'
  | 'stop_failed';

/** The four printery_worker_* metrics the supervisor writes, injected as one. */
@Injectable()
export class SupervisorMetrics {
  constructor(
    @InjectMetric(METRIC.workerUp) readonly up: Gauge,
    @InjectMetric(METRIC.workerRestarts) private readonly restarts: Counter,
    @InjectMetric(METRIC.workerUptime) readonly uptime: Gauge,
    @InjectMetric(METRIC.workerErrors) private readonly errors: Counter,
  ) {}

  /** Every selected worker shows in a scrape from the start, at zero. */
  track(worker: WorkerName): void {
    this.up.set({ worker }, 0);
    this.uptime.set({ worker }, 0);
    this.restarts.inc({ worker }, 0);
  }

  setUp(worker: WorkerName, up: boolean): void {
    this.up.set({ worker }, up ? 1 : 0);
  }

  restarted(worker: WorkerName): void {
    this.restarts.inc({ worker });
  }

  error(worker: WorkerName, kind: SupervisorErrorKind): void {
    this.errors.inc({ worker, kind });
  }
}
