import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type BufferConfig,
} from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from '../../config/tracing-settings';
import { redactText } from '../../logging/redact';
import type { ConsumerIdentity, EntryTracer, Tracing, TracingLog } from '../tracing';
import { ATTR_SERVICE_NAME } from './attributes';
import { ExportAccounting } from './export-accounting';
import { OtelEntryTracer } from './otel-spans';

/**
 * Tracing on: OpenTelemetry's SDK does the work — sampling
 * (OTEL_TRACES_SAMPLER), the bounded batch queue (OTEL_BSP_*), the OTLP/HTTP
 * export with its retries and timeout (OTEL_EXPORTER_OTLP_*), the resource
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) — each reading its variables
 * from the environment. Nothing is registered globally: the spans are
 * started here and passed along by hand, so no context manager runs on the
 * hot path and nothing else in the process starts tracing by accident.
 *
 * Required only by start-tracing.ts, and only when tracing is on.
 */
export class OtelTracing implements Tracing {
  readonly enabled = true;
  private readonly provider: BasicTracerProvider;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(config: TracingConfig, log: TracingLog, onDropped: (count: number) => void) {
    // Ours below the environment's: OTEL_SERVICE_NAME or a service.name in
    // OTEL_RESOURCE_ATTRIBUTES wins over the default name.
    const resource = defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }))
      .merge(detectResources({ detectors: [envDetector] }));
    const exporter = config.protocol === 'http/json' ? new JsonExporter() : new ProtobufExporter();
    const accounting = new ExportAccounting(log, onDropped);
    // The env-reading processor passes its options on to the SDK's own,
    // which takes the self-observability meter its type here does not list.
    // The collector-down test proves the counting still works.
    const options = { selfObsMeterProvider: accounting.meterProvider() } as BufferConfig;
    this.provider = new BasicTracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor(exporter, options)],
    });
    log.info(
      {
        event: 'tracing.started',
        endpoint: redactText(config.tracesEndpoint ?? config.endpoint ?? ''),
        protocol: config.protocol,
        sampler: config.sampler,
        serviceName: resource.attributes[ATTR_SERVICE_NAME],
      },
      'tracing on: spans are exported over OTLP/HTTP',
    );
  }

  forConsumer(identity: ConsumerIdentity): EntryTracer {
    return new OtelEntryTracer(
      this.provider.getTracer('printery-workers'),
      this.propagator,
      identity,
    );
  }

  async shutdown(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      timer.unref();
    });
    try {
      // A collector that does not answer keeps the export (and its retries)
      // going past the deadline; the process does not wait for it.
      await Promise.race([this.provider.shutdown().catch(() => undefined), overrun]);
    } finally {
      clearTimeout(timer);
    }
  }
}
