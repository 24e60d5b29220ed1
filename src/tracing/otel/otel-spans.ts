import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
} from '@opentelemetry/api';
import { redactText, redactUrlPath } from '../../logging/redact';
import type {
  ConsumerIdentity,
  EntryFailure,
  EntryOutcome,
  EntrySpan,
  EntryTracer,
  RequestPurpose,
  RequestSpan,
} from '../tracing';
import {
  ATTR_CLOUDEVENTS_EVENT_ID,
  ATTR_CLOUDEVENTS_EVENT_SUBJECT,
  ATTR_CLOUDEVENTS_EVENT_TYPE,
  ATTR_DELIVERY_COUNT,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_MESSAGING_CLIENT_ID,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_OUTCOME,
  ATTR_REQUEST,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_WORKER,
  MESSAGING_SYSTEM_REDIS,
} from './attributes';

/** Status descriptions are reasons for a human, not logs: redacted and kept short. */
const MAX_STATUS_CHARS = 200;

function errorStatus(span: Span, errorType: string, reason: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorType);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: redactText(reason).slice(0, MAX_STATUS_CHARS),
  });
}

/** Consumer spans of one consumer's entries (kind CONSUMER, `<worker> process`). */
export class OtelEntryTracer implements EntryTracer {
  private readonly name: string;
  /** The attributes every entry of this consumer shares, copied into each span's own. */
  private readonly common: Attributes;

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
    identity: ConsumerIdentity,
  ) {
    this.name = `${identity.worker} process`;
    this.common = {
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS,
      [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: identity.group,
      [ATTR_MESSAGING_CLIENT_ID]: identity.consumerName,
      [ATTR_WORKER]: identity.worker,
    };
  }

  start(
    stream: string,
    entryId: string,
    deliveryCount: number,
    fields: readonly string[],
  ): EntrySpan {
    const attributes: Attributes = {
      ...this.common,
      [ATTR_MESSAGING_DESTINATION_NAME]: stream,
      [ATTR_MESSAGING_MESSAGE_ID]: entryId,
      [ATTR_DELIVERY_COUNT]: deliveryCount,
    };
    // Read from the raw fields, not the parsed envelope: a malformed entry
    // (dead-lettered without parsing) gets its span and parent too. Never
    // `data`: spans hold no payload.
    let traceparent: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const value = fields[i + 1] as string;
      switch (fields[i] as string) {
        case 'traceparent':
          traceparent ??= value;
          break;
        case 'id':
          attributes[ATTR_CLOUDEVENTS_EVENT_ID] ??= value;
          break;
        case 'type':
          attributes[ATTR_CLOUDEVENTS_EVENT_TYPE] ??= value;
          break;
        case 'subject':
          attributes[ATTR_CLOUDEVENTS_EVENT_SUBJECT] ??= value;
          break;
        default:
          break;
      }
    }
    // An invalid traceparent extracts to nothing: the entry starts a new trace.
    const parent = traceparent
      ? this.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter)
      : ROOT_CONTEXT;
    const span = this.tracer.startSpan(this.name, { kind: SpanKind.CONSUMER, attributes }, parent);
    return new OtelEntrySpan(span, this.tracer, this.propagator);
  }
}

class OtelEntrySpan implements EntrySpan {
  private ownTraceparent: string | undefined;

  constructor(
    private readonly span: Span,
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
  ) {}

  get traceparent(): string | undefined {
    if (this.ownTraceparent === undefined) {
      const carrier: Record<string, string> = {};
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), carrier, defaultTextMapSetter);
      this.ownTraceparent = carrier.traceparent;
    }
    return this.ownTraceparent;
  }

  startRequest(method: string, url: string, purpose: RequestPurpose, attempt: number): RequestSpan {
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      // SPEC §1: no credentials, query or token-like path segments.
      [ATTR_URL_FULL]: redactUrlPath(url),
      [ATTR_REQUEST]: purpose,
    };
    if (URL.canParse(url)) {
      const parsed = new URL(url);
      attributes[ATTR_SERVER_ADDRESS] = parsed.hostname.replace(/^\[|\]$/g, '');
      attributes[ATTR_SERVER_PORT] = Number(
        parsed.port || (parsed.protocol === 'https:' ? 443 : 80),
      );
    }
    if (attempt > 1) {
      attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = attempt - 1;
    }
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes },
      trace.setSpan(ROOT_CONTEXT, this.span),
    );
    return new OtelRequestSpan(span);
  }

  succeeded(outcome: EntryOutcome): void {
    this.span.setAttribute(ATTR_OUTCOME, outcome);
  }

  failed(failure: EntryFailure, reason: string, errorType: string): void {
    this.span.setAttribute(ATTR_OUTCOME, failure);
    errorStatus(this.span, errorType, reason);
  }

  end(): void {
    this.span.end();
  }
}

class OtelRequestSpan implements RequestSpan {
  constructor(private readonly span: Span) {}

  answered(statusCode: number): void {
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
    if (statusCode >= 400) {
      // HTTP client conventions: 4xx and 5xx are errors, error.type the status code.
      errorStatus(this.span, String(statusCode), `status ${statusCode}`);
    }
  }

  failed(errorType: string, reason: string): void {
    errorStatus(this.span, errorType, reason);
  }

  end(): void {
    this.span.end();
  }
}
