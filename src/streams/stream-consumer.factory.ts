import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { METRIC } from '../metrics/metric-names';
import { RedisService } from '../redis/redis.service';
import { NOOP_TRACING } from '../tracing/noop-tracing';
import { TRACING, type Tracing } from '../tracing/tracing';
import type { ConsumerSpec } from './handler';
import { quietDuringOutage } from './quiet-during-outage';
import { type ConsumerSettings, StreamConsumer, type WorkerCounters } from './consumer';

/** Builds StreamConsumers wired to the app's Redis, config, metrics and logger. */
@Injectable()
export class StreamConsumerFactory {
  private readonly settings: ConsumerSettings;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectMetric(METRIC.eventsProcessed) private readonly processed: Counter,
    @InjectMetric(METRIC.eventProcessingSeconds) private readonly processingSeconds: Histogram,
    @InjectMetric(METRIC.workerInFlight) private readonly inFlight: Gauge,
    @InjectMetric(METRIC.deadLetters) private readonly deadLetters: Counter,
    @InjectMetric(METRIC.workerErrors) private readonly errors: Counter,
    @InjectPinoLogger(StreamConsumer.name) private readonly logger: PinoLogger,
    // Absent where a module is built without the app (tests): no spans then.
    @Optional() @Inject(TRACING) private readonly tracing: Tracing = NOOP_TRACING,
  ) {
    this.settings = {
      ...config.streams,
      hangThresholdMs: config.supervisor.hangThresholdMs,
    };
  }

  /** A fresh consumer for one worker start; `counters` belong to the worker and outlive it. */
  create(spec: ConsumerSpec, counters: WorkerCounters): StreamConsumer {
    return new StreamConsumer({
      spec,
      settings: this.settings,
      connect: (name, overrides) => this.redis.createConnection(name, overrides),
      metrics: {
        processed: this.processed,
        processingSeconds: this.processingSeconds,
        inFlight: this.inFlight,
        deadLetters: this.deadLetters,
        errors: this.errors,
      },
      logger: quietDuringOutage(this.logger, this.redis.outage),
      counters,
      tracing: this.tracing,
    });
  }
}
