/**
 * The service's own view of tracing (SPEC §8). The stream runtime and the
 * workers talk only to these interfaces; the OpenTelemetry SDK behind them
 * (otel/) is loaded at start only when an OTLP endpoint is configured, so
 * with tracing off no SDK module is ever required and the no-op below is
 * all there is: shared singletons, nothing allocated per entry.
 */

/** What an entry's span is told about how it ended (the `printery.outcome` attribute). */
export type EntryOutcome = 'ok' | 'skipped';

/** Why an entry's span ends in error. */
export type EntryFailure = 'retry' | 'dead_letter' | 'abandoned' | 'internal';

/** What an outbound request is for (the `printery.request` attribute). */
export type RequestPurpose = 'health_probe' | 'webhook' | 'slack';

/**
 * One outbound HTTP request (a health probe attempt, a webhook or Slack
 * delivery attempt): a client span beneath the entry's span.
 */
export interface RequestSpan {
  /** The response's status code; 4xx and 5xx mark the span as an error. */
  answered(statusCode: number): void;
  /**
   * No response: `errorType` a short class (`timeout`, `host_refused`, an
   * error code such as ECONNREFUSED), `reason` redacted before it is kept.
   */
  failed(errorType: string, reason: string): void;
  end(): void;
}

/** The consumer span of one handled stream entry. */
export interface EntrySpan {
  /**
   * This span's W3C `traceparent`, for the entry's outputs; undefined when
   * not tracing (outputs then carry the input's own, as before).
   */
  readonly traceparent: string | undefined;
  /**
   * Starts a client span beneath this one for one HTTP request. `url` is
   * recorded redacted as SPEC §1 redacts targets; `attempt` is 1-based.
   */
  startRequest(method: string, url: string, purpose: RequestPurpose, attempt: number): RequestSpan;
  /** The entry was committed (its outputs or its skip, and its ack). */
  succeeded(outcome: EntryOutcome): void;
  /** The entry failed this delivery; `reason` is redacted before it is kept. */
  failed(failure: EntryFailure, reason: string, errorType: string): void;
  end(): void;
}

/** Who consumes: the same for every entry of one consumer. */
export interface ConsumerIdentity {
  worker: string;
  group: string;
  consumerName: string;
}

/** Starts the spans of one consumer's entries. */
export interface EntryTracer {
  /**
   * The span of an entry just delivered to the consumer, its parent taken
   * from the entry's `traceparent` field when it has a valid one.
   */
  start(
    stream: string,
    entryId: string,
    deliveryCount: number,
    fields: readonly string[],
  ): EntrySpan;
}

/** Tracing for the whole process. */
export interface Tracing {
  readonly enabled: boolean;
  forConsumer(identity: ConsumerIdentity): EntryTracer;
  /**
   * Exports what is still queued and stops, giving up at `deadline` (epoch
   * ms): an unreachable collector never holds the process past it.
   */
  shutdown(deadline: number): Promise<void>;
}

/** Where tracing tells about itself: fields first, constant message (pino fits). */
export interface TracingLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Nest injection token of the process's Tracing. */
export const TRACING = Symbol('TRACING');
