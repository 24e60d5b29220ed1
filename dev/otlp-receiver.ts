import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as protobuf from 'protobufjs';
import { LoopbackSink, type SinkRequest } from './loopback-sink';

/** A span as the receiver decoded it, the same whichever protocol carried it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, string | number | boolean>;
  protocol: 'http/protobuf' | 'http/json';
}

export const SPAN_KIND = { client: 3, consumer: 5 } as const;
export const STATUS_CODE = { unset: 0, ok: 1, error: 2 } as const;

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string | Uint8Array;
  spanId: string | Uint8Array;
  parentSpanId?: string | Uint8Array;
  name: string;
  kind?: number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
}
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  }>;
}

const PROTO_ROOT = resolve(__dirname, 'otlp-proto');
let requestType: protobuf.Type | undefined;

/** ExportTraceServiceRequest from OpenTelemetry's own .proto files (dev/otlp-proto, opentelemetry-proto v1.11.0). */
function exportTraceServiceRequest(): protobuf.Type {
  if (!requestType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => resolve(PROTO_ROOT, target);
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
    requestType = root.lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    );
  }
  return requestType;
}

function hex(id: string | Uint8Array | undefined): string {
  if (id === undefined) {
    return '';
  }
  // OTLP/JSON writes ids as hex already; protobuf carries the bytes.
  return typeof id === 'string' ? id.toLowerCase() : Buffer.from(id).toString('hex');
}

function attributeMap(list: OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const scalar = value?.stringValue ?? value?.boolValue ?? value?.intValue ?? value?.doubleValue;
    if (scalar !== undefined) {
      out[key] =
        typeof scalar === 'string' && value?.intValue !== undefined ? Number(scalar) : scalar;
    }
  }
  return out;
}

/** Reads one export request, protobuf or JSON, gzipped or not. */
export function decodeExport(request: SinkRequest): ReceivedSpan[] {
  const bytes =
    request.headers['content-encoding'] === 'gzip' ? gunzipSync(request.raw) : request.raw;
  const json = String(request.headers['content-type']).includes('json');
  let body: OtlpRequest;
  if (json) {
    body = JSON.parse(bytes.toString()) as OtlpRequest;
  } else {
    const type = exportTraceServiceRequest();
    body = type.toObject(type.decode(bytes), { longs: Number, enums: Number });
  }
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const resource = attributeMap(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind ?? 0,
          attributes: attributeMap(span.attributes),
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
          resource,
          protocol: json ? 'http/json' : 'http/protobuf',
        });
      }
    }
  }
  return spans;
}

/**
 * An OTLP/HTTP trace receiver on a loopback port, standing in for an
 * OpenTelemetry collector in tests and the bench: it accepts
 * `POST /v1/traces` in both protocols (http/protobuf, http/json) and keeps
 * every request and every span decoded from it.
 */
export class OtlpReceiver {
  private constructor(private readonly sink: LoopbackSink) {}

  static async start(): Promise<OtlpReceiver> {
    const sink = await LoopbackSink.start({
      answer: (request, res) => {
        const json = String(request.headers['content-type']).includes('json');
        // An empty ExportTraceServiceResponse: full success.
        res.writeHead(request.path === '/v1/traces' ? 200 : 404, {
          'content-type': json ? 'application/json' : 'application/x-protobuf',
        });
        res.end(json ? '{}' : '');
      },
    });
    return new OtlpReceiver(sink);
  }

  /** For OTEL_EXPORTER_OTLP_ENDPOINT: the exporter adds `/v1/traces`. */
  get endpoint(): string {
    return this.sink.base;
  }

  /** Every export request received, headers included. */
  get requests(): readonly SinkRequest[] {
    return this.sink.requests;
  }

  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[] {
    return this.sink.received('/v1/traces').flatMap(decodeExport);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
