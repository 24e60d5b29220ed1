import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { WorkerName } from '../config';
import { SupervisorService } from '../supervisor/supervisor.service';

/** One Terminus indicator per worker, fed by the supervisor's view of it. */
@Injectable()
export class WorkerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly supervisor: SupervisorService,
  ) {}

  check(name: WorkerName) {
    const indicator = this.indicators.check(name);
    const status = this.supervisor.getStatus().find((worker) => worker.name === name);
    if (!status) {
      return indicator.down({ state: 'unknown', message: 'worker is not registered' });
    }
    const data = {
      state: status.state,
      inFlight: status.inFlight,
      restarts: status.restarts,
      lastLoopAt: status.lastLoopAt,
      ...(status.reason ? { reason: status.reason } : {}),
      ...(status.lastError ? { lastError: status.lastError } : {}),
    };
    return status.state === 'running' && status.healthy ? indicator.up(data) : indicator.down(data);
  }
}
