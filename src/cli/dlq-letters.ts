import { redactDeep, redactText, redactUrlPath } from '../logging/redact';
import { type DeadLetterRecord, decodeDeadLetter } from '../streams/dead-letter';
import { EVENT_TYPES, type StreamTopology } from '../streams/topology';
import { fieldsToObject } from './one-shot';

/** Dead letters read per XRANGE round trip while `dlq list` filters. */
export const PAGE = 200;

/** A dead-letter entry: its own id plus the record SPEC §2 gives it. */
export type DeadLetter = DeadLetterRecord & { deadLetterId: string };

export function toDeadLetter([entryId, flat]: [string, string[]]): DeadLetter {
  return { deadLetterId: entryId, ...decodeDeadLetter(flat) };
}

/** The stream keys a dead letter may come from and be replayed into: the pipeline's own. */
export function replayableStreams(topology: StreamTopology): Set<string> {
  return new Set(Object.values(EVENT_TYPES).map((type) => topology.stream(type)));
}

/** Ids are given as seen in `dlq list`; a bare millisecond part means `-0`. */
export function normaliseId(id: string): string {
  return id.includes('-') ? id : `${id}-0`;
}

/** The id just after `id`, for an exclusive XTRIM MINID bound. */
export function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

/** A dead letter as `list` and `show` display it: the original fields as an object, secrets scrubbed. */
export type DisplayedDeadLetter = Omit<DeadLetter, 'fields'> & { fields: Record<string, string> };

/**
 * A dead letter made safe to print: metadata and original fields pass
 * through `redactDeep`, and inside a JSON `data` the webhook URLs of
 * `notify[]` and the `healthCheck.url` lose their paths (Slack webhook
 * paths are the credential). Only for display; `replay` re-adds the raw
 * fields.
 */
export function displayedDeadLetter(entry: DeadLetter): DisplayedDeadLetter {
  const { fields, ...meta } = entry;
  const original = fieldsToObject(fields);
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(original)) {
    shown[name] = name === 'data' ? displayedData(value) : value;
  }
  return { ...redactDeep(meta), fields: redactDeep(shown) };
}

function displayedData(value: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // Not JSON (often the very reason it was dead-lettered): scrubbed as text.
    return redactText(value);
  }
  return JSON.stringify(redactDeep(withoutUrlPaths(parsed)));
}

/** Deep copy with `notify[].url` and `healthCheck.url` stripped of credentials by `redactUrlPath`, at any depth. */
function withoutUrlPaths(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutUrlPaths);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'notify' && Array.isArray(item)) {
      out[key] = item.map((target: unknown) => withoutUrlPaths(withUrlRedacted(target)));
    } else if (key === 'healthCheck') {
      out[key] = withoutUrlPaths(withUrlRedacted(item));
    } else {
      out[key] = withoutUrlPaths(item);
    }
  }
  return out;
}

function withUrlRedacted(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return value;
  }
  const record = value as Record<string, unknown>;
  return typeof record.url === 'string' ? { ...record, url: redactUrlPath(record.url) } : record;
}
