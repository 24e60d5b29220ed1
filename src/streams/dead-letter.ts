/** Bounded `reason` label values of printery_dead_letters_total and of dead-letter records. */
export type DeadLetterReason = 'malformed' | 'invalid' | 'max_deliveries' | 'deleted';

/**
 * One entry of `${STREAM_PREFIX}:dead-letter`. Stored as a flat field list
 * with these names; `fields` is the original entry's flat field list as a
 * JSON array, so a replay can re-add it unchanged.
 */
export interface DeadLetterRecord {
  /** Full key of the stream the entry was read from. */
  stream: string;
  /** The original Redis entry id. */
  id: string;
  group: string;
  worker: string;
  reason: DeadLetterReason;
  /** Last error, secrets redacted, truncated. */
  error: string;
  deliveryCount: number;
  /** The original entry's field list. */
  fields: string[];
  /** ISO time it was dead-lettered. */
  time: string;
}

/** Longest error text kept in a record; stack traces and payload echoes are cut. */
export const MAX_DEAD_LETTER_ERROR_CHARS = 1000;

export function encodeDeadLetter(record: DeadLetterRecord): string[] {
  return [
    'stream',
    record.stream,
    'id',
    record.id,
    'group',
    record.group,
    'worker',
    record.worker,
    'reason',
    record.reason,
    'error',
    record.error.slice(0, MAX_DEAD_LETTER_ERROR_CHARS),
    'deliveryCount',
    String(record.deliveryCount),
    'fields',
    JSON.stringify(record.fields),
    'time',
    record.time,
  ];
}

/** Reads a dead-letter entry back; tolerant of missing fields (older or hand-written entries). */
export function decodeDeadLetter(flat: readonly string[]): DeadLetterRecord {
  const attrs = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    attrs.set(flat[i] as string, flat[i + 1] as string);
  }
  let fields: string[] = [];
  try {
    const parsed: unknown = JSON.parse(attrs.get('fields') ?? '[]');
    if (Array.isArray(parsed)) {
      fields = parsed.map(String);
    }
  } catch {
    fields = [];
  }
  return {
    stream: attrs.get('stream') ?? '',
    id: attrs.get('id') ?? '',
    group: attrs.get('group') ?? '',
    worker: attrs.get('worker') ?? '',
    reason: (attrs.get('reason') ?? 'invalid') as DeadLetterReason,
    error: attrs.get('error') ?? '',
    deliveryCount: Number(attrs.get('deliveryCount') ?? 0),
    fields,
    time: attrs.get('time') ?? '',
  };
}
