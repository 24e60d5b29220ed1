import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { METRIC } from '../metrics/metric-names';
import type { DeadLetterReason } from './dead-letter';

/** `outcome` values of printery_events_processed_total (SPEC §6). */
const PROCESS_OUTCOMES = ['ok', 'retry', 'dead_letter', 'skipped'] as const;

/** Every reason; `satisfies` makes the compiler list a new reason here too. */
const DEAD_LETTER_REASONS = Object.keys({
  malformed: true,
  invalid: true,
  max_deliveries: true,
  deleted: true,
} satisfies Record<DeadLetterReason, true>);

/**
 * Exports the stream runtime's counters at 0, for every outcome and
 * dead-letter reason of each worker this process runs, from the start.
 * Prometheus sees no increase() in a series whose first sample is already
 * 1, so without this an alert on "dead letters arriving" would miss the
 * first dead letter of every process.
 */
@Injectable()
export class CounterSeeds implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectMetric(METRIC.eventsProcessed) private readonly processed: Counter,
    @InjectMetric(METRIC.deadLetters) private readonly deadLetters: Counter,
  ) {}

  onModuleInit(): void {
    for (const worker of this.config.supervisor.workers) {
      for (const outcome of PROCESS_OUTCOMES) {
        this.processed.inc({ worker, outcome }, 0);
      }
      for (const reason of DEAD_LETTER_REASONS) {
        this.deadLetters.inc({ worker, reason }, 0);
      }
    }
  }
}
