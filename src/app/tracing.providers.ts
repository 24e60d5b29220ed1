import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { getToken } from '@willsoto/nestjs-prometheus';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { METRIC } from '../metrics/metric-names';
import { startTracing } from '../tracing/start-tracing';
import { TRACING, type Tracing } from '../tracing/tracing';

/** The process's Tracing, started with the app: the SDK only when an endpoint is set. */
export function tracingProvider(config: AppConfig, logger: Logger): Provider {
  return {
    provide: TRACING,
    useFactory: (dropped: Counter): Tracing =>
      startTracing(config.tracing, logger, (count) => dropped.inc(count)),
    inject: [getToken(METRIC.tracingSpansDropped)],
  };
}

/**
 * What the last spans get to reach the collector once the workers have
 * drained: whatever is left of SHUTDOWN_TIMEOUT_MS, but at least a moment
 * (spans ended in the drain's last instant) and never more than a couple of
 * seconds, so an unreachable collector does not hold an idle process.
 */
const FLUSH_MIN_MS = 250;
const FLUSH_MAX_MS = 2000;

/** Flushes the spans on shutdown, after the supervisor has drained the workers. */
@Injectable()
export class TracingShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(TRACING) private readonly tracing: Tracing,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lifecycle: ProcessLifecycle,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    const now = Date.now();
    const requestedAt = this.lifecycle.requestedAt ?? now;
    const drainDeadline = requestedAt + this.config.supervisor.shutdownTimeoutMs;
    const deadline = Math.min(now + FLUSH_MAX_MS, Math.max(now + FLUSH_MIN_MS, drainDeadline));
    await this.tracing.shutdown(deadline);
  }
}
