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
