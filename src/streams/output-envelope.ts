import { randomUUID } from 'node:crypto';
import { type Envelope, JSON_CONTENT_TYPE, SPEC_VERSION } from './envelope';

// The envelopes the runtime writes for a handler's outputs (SPEC §1): the
// parsing and plain encoding of entries are envelope.ts's.

let isoMs = Number.NaN;
let isoText = '';

/** `new Date().toISOString()`, formatted once per millisecond: every output carries it. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Who is writing and why: what the runtime adds to a handler's output. */
export interface OutputContext {
  /** Worker name; the envelope's `source` becomes `printery/<worker>`. */
  worker: string;
  /** The input event this output answers. */
  cause: Envelope;
  /** Injected for tests; defaults to now. */
  now?: Date;
  /**
   * The handling span's own `traceparent` when tracing (SPEC §8); without
   * one the input's is carried over.
   */
  traceparent?: string;
}

/**
 * The envelope of an output event: a new UUID, `source` = `printery/<worker>`,
 * the input's subject unless given, `causationid` = the input's id, and the
 * handling span's `traceparent` (the input's when not tracing).
 */
export function buildOutputEnvelope(
  output: { type: string; data: unknown; subject?: string },
  context: OutputContext,
): Envelope {
  const envelope: Envelope = {
    specversion: SPEC_VERSION,
    id: randomUUID(),
    type: output.type,
    source: `printery/${context.worker}`,
    time: (context.now ?? new Date()).toISOString(),
    datacontenttype: JSON_CONTENT_TYPE,
    data: output.data,
    causationid: context.cause.id,
  };
  const subject = output.subject ?? context.cause.subject;
  if (subject !== undefined) {
    envelope.subject = subject;
  }
  const traceparent = context.traceparent ?? context.cause.traceparent;
  if (traceparent !== undefined) {
    envelope.traceparent = traceparent;
  }
  return envelope;
}

/**
 * `encodeEnvelope(buildOutputEnvelope(output, context))` in one step, without
 * the intermediate envelope: the runtime does this for every output it writes.
 */
export function encodeOutputEnvelope(
  output: { type: string; data: unknown; subject?: string },
  context: OutputContext,
): string[] {
  const out = [
    'specversion',
    SPEC_VERSION,
    'id',
    randomUUID(),
    'type',
    output.type,
    'source',
    `printery/${context.worker}`,
  ];
  const subject = output.subject ?? context.cause.subject;
  if (subject !== undefined) {
    out.push('subject', subject);
  }
  out.push(
    'time',
    context.now ? context.now.toISOString() : nowIso(),
    'datacontenttype',
    JSON_CONTENT_TYPE,
    'data',
    JSON.stringify(output.data ?? null),
    'causationid',
    context.cause.id,
  );
  const traceparent = context.traceparent ?? context.cause.traceparent;
  if (traceparent !== undefined) {
    out.push('traceparent', traceparent);
  }
  return out;
}
