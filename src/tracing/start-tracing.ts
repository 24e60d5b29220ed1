import { type TracingConfig, tracingEnabled } from '../config/tracing-settings';
import { NOOP_TRACING } from './noop-tracing';
import type * as OtelModule from './otel/otel-tracing';
import type { Tracing, TracingLog } from './tracing';

/**
 * The process's tracing: OpenTelemetry when an OTLP endpoint is configured
 * (SPEC §8), else the no-op. The SDK is required here, at start and only
 * when on, so that with tracing off not one of its modules is loaded: no
 * start-up time, no memory, nothing on the hot path.
 *
 * `onDropped` is told how many spans were dropped (queue full, export
 * failed), for printery_tracing_spans_dropped_total.
 */
export function startTracing(
  config: TracingConfig,
  log: TracingLog,
  onDropped: (count: number) => void,
): Tracing {
  if (!tracingEnabled(config)) {
    return NOOP_TRACING;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otel = require('./otel/otel-tracing') as typeof OtelModule;
  return new otel.OtelTracing(config, log, onDropped);
}
