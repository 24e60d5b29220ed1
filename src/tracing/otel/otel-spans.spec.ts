import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OtelEntryTracer } from './otel-spans';

// Real SDK spans, kept in memory by the SDK's own exporter.
describe('OtelEntryTracer', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = new OtelEntryTracer(provider.getTracer('test'), new W3CTraceContextPropagator(), {
    worker: 'health',
    group: 'printery-health',
    consumerName: 'host:1:abc',
  });
  const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const fields = (extra: string[] = []): string[] => [
    'id',
    'evt-1',
    'type',
    'dependency:checked',
    'subject',
    'dep-42',
    'data',
    '{"secret":"payload"}',
    ...extra,
  ];
  const finished = (): ReadableSpan[] => exporter.getFinishedSpans();

  afterEach(() => exporter.reset());
  afterAll(() => provider.shutdown());

  it("parents an entry's span on its traceparent and names it after the worker", () => {
    const span = tracer.start('p:dependency:checked', '1-0', 2, fields(['traceparent', PARENT]));
    span.succeeded('ok');
    span.end();
    const [done] = finished();
    expect(done?.name).toBe('health process');
    expect(done?.kind).toBe(SpanKind.CONSUMER);
    expect(done?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(done?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(done?.attributes).toEqual({
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'p:dependency:checked',
      'messaging.consumer.group.name': 'printery-health',
      'messaging.message.id': '1-0',
      'messaging.client.id': 'host:1:abc',
      'printery.message.delivery_count': 2,
      'printery.worker': 'health',
      'printery.outcome': 'ok',
      'cloudevents.event_id': 'evt-1',
      'cloudevents.event_type': 'dependency:checked',
      'cloudevents.event_subject': 'dep-42',
    });
  });

  it('gives its outputs its own traceparent, in the same trace', () => {
    const span = tracer.start('s', '1-0', 1, fields(['traceparent', PARENT]));
    const own = span.traceparent;
    span.end();
    const context = finished()[0]?.spanContext();
    expect(own).toBe(`00-${context?.traceId}-${context?.spanId}-01`);
    expect(own).not.toBe(PARENT);
  });

  it('starts a new trace for an entry without a valid traceparent', () => {
    for (const extra of [[], ['traceparent', 'not-a-trace-context']]) {
      tracer.start('s', '1-0', 1, fields(extra)).end();
    }
    const [a, b] = finished();
    expect(a?.parentSpanContext).toBeUndefined();
    expect(b?.parentSpanContext).toBeUndefined();
    expect(a?.spanContext().traceId).not.toBe(b?.spanContext().traceId);
  });

  it('marks a failed delivery as an error with a redacted, short reason', () => {
    const span = tracer.start('s', '1-0', 5, fields());
    span.failed(
      'dead_letter',
      `dead-lettered (max_deliveries): GET https://u:pw-secret@h/x?token=t0k ${'x'.repeat(300)}`,
      'max_deliveries',
    );
    span.end();
    const [done] = finished();
    expect(done?.status.code).toBe(SpanStatusCode.ERROR);
    expect(done?.status.message).toMatch(
      /^dead-lettered \(max_deliveries\): GET https:\/\/u:\[REDACTED\]@h\/x\?token=\[REDACTED\] x+$/,
    );
    expect(done?.status.message?.length).toBe(200);
    expect(done?.attributes).toMatchObject({
      'printery.outcome': 'dead_letter',
      'error.type': 'max_deliveries',
    });
  });

  it('starts client spans beneath the entry for its requests, URLs redacted as SPEC §1 does', () => {
    const entry = tracer.start('s', '1-0', 1, fields());
    const first = entry.startRequest(
      'POST',
      'https://u:pw@hooks.example/services/T0/B0/tok?sig=1',
      'slack',
      1,
    );
    first.answered(503);
    first.end();
    const second = entry.startRequest('POST', 'http://[::1]:8080/deploys', 'webhook', 2);
    second.failed('ECONNREFUSED', 'connect ECONNREFUSED ::1:8080');
    second.end();
    entry.end();
    const [slack, webhook, parent] = finished();
    expect(slack?.kind).toBe(SpanKind.CLIENT);
    expect(slack?.name).toBe('POST');
    expect(slack?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(slack?.attributes).toEqual({
      'http.request.method': 'POST',
      'url.full': 'https://hooks.example/services/[REDACTED]?[REDACTED]',
      'server.address': 'hooks.example',
      'server.port': 443,
      'printery.request': 'slack',
      'http.response.status_code': 503,
      'error.type': '503',
    });
    expect(slack?.status.code).toBe(SpanStatusCode.ERROR);
    expect(webhook?.attributes).toMatchObject({
      'url.full': 'http://[::1]:8080/deploys',
      'server.address': '::1',
      'server.port': 8080,
      'http.request.resend_count': 1,
      'error.type': 'ECONNREFUSED',
    });
  });

  it('never records the payload', () => {
    tracer.start('s', '1-0', 1, fields()).end();
    expect(JSON.stringify(finished()[0]?.attributes)).not.toContain('payload');
  });
});
