import { randomUUID } from 'node:crypto';
import { InvalidEntryError } from '../errors/invalid-entry.error';

/**
 * A stream entry's CloudEvents 1.0 envelope (SPEC §1), with `data` already
 * parsed from JSON. Entries are flat field lists in Redis; see
 * `parseEnvelope` / `encodeEnvelope` in the stream runtime.
 */
export interface Envelope {
  specversion: string;
  id: string;
  type: string;
  source?: string;
  subject?: string;
  time?: string;
  datacontenttype: string;
  data: unknown;
  causationid?: string;
  traceparent?: string;
}

/** CloudEvents version this service reads and writes. */
export const SPEC_VERSION = '1.0';
export const JSON_CONTENT_TYPE = 'application/json';

/** Envelope attributes in the order they are written to a stream entry. */
const FIELD_ORDER = [
  'specversion',
  'id',
  'type',
  'source',
  'subject',
  'time',
  'datacontenttype',
  'data',
  'causationid',
  'traceparent',
] as const;

/** Size of a flat field list as Redis stores it (UTF-8 bytes of names and values). */
export function entryBytes(fields: readonly string[]): number {
  let total = 0;
  for (const field of fields) {
    total += Buffer.byteLength(field, 'utf8');
  }
  return total;
}

/**
 * Reads a stream entry's flat field list as a CloudEvents envelope (SPEC §1).
 *
 * @throws InvalidEntryError with a human-readable reason when the entry is
 *   malformed: odd field list, over `maxBytes`, missing `id`/`type`/`data`,
 *   `data` not JSON, or an unsupported `specversion`.
 */
export function parseEnvelope(fields: readonly string[], maxBytes: number): Envelope {
  if (fields.length % 2 !== 0) {
    throw new InvalidEntryError('entry has an odd number of fields');
  }
  const size = entryBytes(fields);
  if (size > maxBytes) {
    throw new InvalidEntryError(`entry is ${size} bytes, over MAX_EVENT_BYTES (${maxBytes})`);
  }
  const attrs = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    // Redis keeps repeated field names; the first one wins, as in most readers.
    if (!attrs.has(name)) {
      attrs.set(name, fields[i + 1] as string);
    }
  }
  const missing = (['id', 'type', 'data'] as const).filter((name) => !attrs.get(name));
  if (missing.length > 0) {
    throw new InvalidEntryError(
      `missing required field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
    );
  }
  const specversion = attrs.get('specversion') || SPEC_VERSION;
  if (specversion !== SPEC_VERSION) {
    throw new InvalidEntryError(
      `unsupported specversion ${JSON.stringify(specversion.slice(0, 20))}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(attrs.get('data') as string);
  } catch {
    throw new InvalidEntryError('data is not valid JSON');
  }
  const optional = (name: string): string | undefined => attrs.get(name) || undefined;
  const envelope: Envelope = {
    specversion,
    id: attrs.get('id') as string,
    type: attrs.get('type') as string,
    datacontenttype: optional('datacontenttype') ?? JSON_CONTENT_TYPE,
    data,
  };
  for (const name of ['source', 'subject', 'time', 'causationid', 'traceparent'] as const) {
    const value = optional(name);
    if (value !== undefined) {
      envelope[name] = value;
    }
  }
  return envelope;
}

/** The flat field list for XADD; `data` is serialised as JSON, absent attributes are left out. */
export function encodeEnvelope(envelope: Envelope): string[] {
  const out: string[] = [];
  for (const name of FIELD_ORDER) {
    const value = name === 'data' ? JSON.stringify(envelope.data ?? null) : envelope[name];
    if (value !== undefined) {
      out.push(name, value);
    }
  }
  return out;
}

/** Who is writing and why: what the runtime adds to a handler's output. */
export interface OutputContext {
  /** Worker name; the envelope's `source` becomes `printery/<worker>`. */
  worker: string;
  /** The input event this output answers. */
  cause: Envelope;
  /** Injected for tests; defaults to now. */
  now?: Date;
}

/**
 * The envelope of an output event: a new UUID, `source` = `printery/<worker>`,
 * the input's subject unless given, `causationid` = the input's id, and the
 * input's `traceparent` carried over.
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
  if (context.cause.traceparent !== undefined) {
    envelope.traceparent = context.cause.traceparent;
  }
  return envelope;
}
