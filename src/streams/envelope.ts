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
  /**
   * Extension attribute set by `dlq replay`: the consumer group the entry is
   * re-driven for. Other groups reading the same stream acknowledge it
   * without handling it, so replaying one group's dead letter does not run
   * every other reader of that stream a second time. Never copied to outputs.
   */
  replayfor?: string;
}

/** Field name of the `replayfor` extension attribute. */
export const REPLAY_FOR_FIELD = 'replayfor';

/** CloudEvents version this service reads and writes. */
export const SPEC_VERSION = '1.0';
export const JSON_CONTENT_TYPE = 'application/json';

/** Envelope attributes in the order they are written to a stream entry. */
export const ENVELOPE_ATTRIBUTES = [
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
  'replayfor',
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
 * Whether `entryBytes(fields)` may exceed `maxBytes`, counting exact bytes
 * only when the cheap bound (a UTF-16 code unit is at most 3 UTF-8 bytes)
 * says it might.
 */
export function mayExceedBytes(fields: readonly string[], maxBytes: number): boolean {
  let units = 0;
  for (const field of fields) {
    units += field.length;
  }
  return units * 3 > maxBytes && entryBytes(fields) > maxBytes;
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
  if (mayExceedBytes(fields, maxBytes)) {
    const size = entryBytes(fields);
    throw new InvalidEntryError(`entry is ${size} bytes, over MAX_EVENT_BYTES (${maxBytes})`);
  }
  // One pass with locals instead of a Map: this runs for every entry read.
  // Redis keeps repeated field names; the first one wins, as in most readers.
  let specversion: string | undefined;
  let id: string | undefined;
  let type: string | undefined;
  let source: string | undefined;
  let subject: string | undefined;
  let time: string | undefined;
  let datacontenttype: string | undefined;
  let rawData: string | undefined;
  let causationid: string | undefined;
  let traceparent: string | undefined;
  let replayfor: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1] as string;
    switch (fields[i] as string) {
      case 'specversion':
        specversion ??= value;
        break;
      case 'id':
        id ??= value;
        break;
      case 'type':
        type ??= value;
        break;
      case 'source':
        source ??= value;
        break;
      case 'subject':
        subject ??= value;
        break;
      case 'time':
        time ??= value;
        break;
      case 'datacontenttype':
        datacontenttype ??= value;
        break;
      case 'data':
        rawData ??= value;
        break;
      case 'causationid':
        causationid ??= value;
        break;
      case 'traceparent':
        traceparent ??= value;
        break;
      case 'replayfor':
        replayfor ??= value;
        break;
      default:
        break;
    }
  }
  if (!id || !type || !rawData) {
    const missing: string[] = [];
    if (!id) {
      missing.push('id');
    }
    if (!type) {
      missing.push('type');
    }
    if (!rawData) {
      missing.push('data');
    }
    throw new InvalidEntryError(
      `missing required field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
    );
  }
  specversion ||= SPEC_VERSION;
  if (specversion !== SPEC_VERSION) {
    throw new InvalidEntryError(
      `unsupported specversion ${JSON.stringify(specversion.slice(0, 20))}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(rawData);
  } catch {
    throw new InvalidEntryError('data is not valid JSON');
  }
  const envelope: Envelope = {
    specversion,
    id,
    type,
    datacontenttype: datacontenttype || JSON_CONTENT_TYPE,
    data,
  };
  // Empty optional attributes count as absent.
  if (source) {
    envelope.source = source;
  }
  if (subject) {
    envelope.subject = subject;
  }
  if (time) {
    envelope.time = time;
  }
  if (causationid) {
    envelope.causationid = causationid;
  }
  if (traceparent) {
    envelope.traceparent = traceparent;
  }
  if (replayfor) {
    envelope.replayfor = replayfor;
  }
  return envelope;
}

/** The flat field list for XADD; `data` is serialised as JSON, absent attributes are left out. */
export function encodeEnvelope(envelope: Envelope): string[] {
  const out: string[] = [];
  for (const name of ENVELOPE_ATTRIBUTES) {
    const value = name === 'data' ? JSON.stringify(envelope.data ?? null) : envelope[name];
    if (value !== undefined) {
      out.push(name, value);
    }
  }
  return out;
}

/**
 * The group an entry's raw fields say it was replayed for (`replayfor`),
 * read without parsing the rest: a malformed entry can carry it too.
 */
export function replayTarget(fields: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === REPLAY_FOR_FIELD && fields[i + 1]) {
      return fields[i + 1];
    }
  }
  return undefined;
}

/** `fields` re-addressed to `group` for a replay: any earlier `replayfor` is replaced. */
export function withReplayTarget(fields: readonly string[], group: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== REPLAY_FOR_FIELD) {
      out.push(fields[i] as string, fields[i + 1] as string);
    }
  }
  out.push(REPLAY_FOR_FIELD, group);
  return out;
}
