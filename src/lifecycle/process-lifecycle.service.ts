import { Injectable } from '@nestjs/common';

export interface ShutdownRequest {
  reason: string;
  exitCode: number;
}

/**
 * The process-wide "please stop" latch. Signals and the supervisor (a failed
 * worker in standalone mode) request a shutdown here; the `run` command waits
 * on `requested` and performs it once, with the first request's exit code.
 */
@Injectable()
export class ProcessLifecycle {
  private resolveRequest!: (request: ShutdownRequest) => void;
  private current: ShutdownRequest | undefined;
  /** Epoch ms of the first request: the drain deadline counts from it. */
  requestedAt: number | undefined;
  readonly requested: Promise<ShutdownRequest> = new Promise((resolve) => {
    this.resolveRequest = resolve;
  });

  /** True from the first shutdown request on; readiness answers 503 from then. */
  get shuttingDown(): boolean {
    return this.current !== undefined;
  }

  requestShutdown(reason: string, exitCode = 0): void {
    if (this.current) {
      return;
    }
    this.current = { reason, exitCode };
    this.requestedAt = Date.now();
    this.resolveRequest(this.current);
  }
}
