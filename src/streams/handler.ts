import type { WorkerName } from '../config/worker-names';
import type { EntrySpan } from '../tracing/tracing';
import type { Envelope } from './envelope';
import type { EventType } from './topology';

/** One entry handed to a worker's handler. */
export interface InboundMessage {
  /** Full stream key it was read from. */
  stream: string;
  /** Redis entry id. */
  entryId: string;
  /** Event type of the stream (e.g. `validation:completed`), whatever the envelope claims. */
  eventType: EventType;
  envelope: Envelope;
  /** How many times Redis has delivered it (1 on first delivery); from XPENDING/XAUTOCLAIM, not memory. */
  deliveryCount: number;
  /**
   * Aborted when the handler's timeout passes or the stop deadline is reached;
   * pass it to fetch()/timers so long handlers give up promptly.
   */
  signal: AbortSignal;
  /**
   * The entry's consumer span (a no-op when tracing is off): outbound
   * requests made for the entry start their client spans beneath it.
   */
  span: EntrySpan;
}

/** An event a handler asks the runtime to publish; the runtime fills the envelope. */
export interface OutboundEvent {
  type: EventType;
  data: unknown;
  /** Defaults to the input's subject (the deployment id). */
  subject?: string;
}

/**
 * What a handler returns. The runtime publishes `outputs` and acknowledges
 * the input in one atomic commit. `skipped` means "not for me" (acked, counted as
 * skipped, nothing published).
 *
 * To fail: throw. `InvalidEntryError` dead-letters at once; any other error
 * leaves the entry pending for redelivery until MAX_DELIVERIES.
 */
export type HandlerResult =
  { outcome: 'ok'; outputs: OutboundEvent[]; marks?: CommitMark[] } | { outcome: 'skipped' };

/**
 * A key the runtime sets (`SET key value PX ttlMs`) in the commit that
 * publishes the outputs and acks the input: a record that the input was
 * handled, which exists exactly when its outputs do (a crash before the
 * commit leaves neither). Keys must derive from STREAM_PREFIX (Cluster).
 */
export interface CommitMark {
  key: string;
  value: string;
  ttlMs: number;
}

export type MessageHandler = (message: InboundMessage) => Promise<HandlerResult>;

/** What a worker gives the stream runtime. */
export interface ConsumerSpec {
  worker: WorkerName;
  group: string;
  /** Full stream keys with their event types; several for the Notifier (read in one XREADGROUP). */
  streams: Array<{ stream: string; eventType: EventType }>;
  concurrency: number;
  handlerTimeoutMs: number;
  handler: MessageHandler;
}
