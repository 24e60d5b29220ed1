import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Meter,
  type MeterProvider,
} from '@opentelemetry/api';
import type { TracingLog } from '../tracing';
import { ATTR_ERROR_TYPE } from './attributes';

/**
 * Counts the spans that never reach the collector, from the batch span
 * processor's own accounting: it reports every span it finished with, with
 * an `error.type` when the span was dropped (`queue_full`: the bounded
 * queue was full) or its export failed. The SDK does the batching, the
 * bounding and the export; this only listens. Logs once when spans start
 * being lost and once when an export succeeds again, not per batch.
 */
export class ExportAccounting {
  private losing = false;
  private lostSinceLog = 0;

  constructor(
    private readonly log: TracingLog,
    private readonly onDropped: (count: number) => void,
  ) {}

  /** The processor's self-observability meter: only its `processed` counter is listened to. */
  meterProvider(): MeterProvider {
    const counter: Counter = {
      add: (value: number, attributes?: Attributes) => this.finished(value, attributes),
    };
    const meter: Meter = Object.create(createNoopMeter()) as Meter;
    meter.createCounter = () => counter;
    return { getMeter: () => meter };
  }

  private finished(count: number, attributes: Attributes | undefined): void {
    const errorType = attributes?.[ATTR_ERROR_TYPE];
    if (errorType === undefined) {
      if (this.losing) {
        this.losing = false;
        this.log.info(
          { event: 'tracing.export_recovered', droppedSpans: this.lostSinceLog },
          'spans reach the collector again',
        );
      }
      return;
    }
    this.onDropped(count);
    this.lostSinceLog += count;
    if (!this.losing) {
      this.losing = true;
      this.lostSinceLog = count;
      this.log.warn(
        {
          event: 'tracing.spans_dropped',
          reason: errorType === 'queue_full' ? 'queue_full' : 'export_failed',
          errorType: String(errorType),
          spans: count,
        },
        'spans are being dropped (collector unreachable or too slow); counted in printery_tracing_spans_dropped_total',
      );
    }
  }
}
