import { InvalidEntryError } from '../errors/invalid-entry.error';
import {
  encodeEnvelope,
  entryBytes,
  parseEnvelope,
  replayTarget,
  withReplayTarget,
} from './envelope';
import { buildOutputEnvelope, encodeOutputEnvelope } from './output-envelope';

const MAX = 65_536;

function reasonOf(fields: string[], max = MAX): string {
  try {
    parseEnvelope(fields, max);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEntryError);
    return (error as Error).message;
  }
  throw new Error('expected the entry to be rejected');
}

describe('parseEnvelope', () => {
  it('reads a minimal entry and fills the CloudEvents defaults', () => {
    const envelope = parseEnvelope(
      ['id', 'e1', 'type', 'deployment:started', 'data', '{"a":1}'],
      MAX,
    );
    expect(envelope).toEqual({
      specversion: '1.0',
      id: 'e1',
      type: 'deployment:started',
      datacontenttype: 'application/json',
      data: { a: 1 },
    });
  });

  it('keeps the optional attributes it is given', () => {
    const envelope = parseEnvelope(
      [
        'specversion',
        '1.0',
        'id',
        'e1',
        'type',
        't',
        'source',
        'orchestrator',
        'subject',
        'dep-1',
        'time',
        '2026-01-01T00:00:00Z',
        'data',
        'null',
        'causationid',
        'c0',
        'traceparent',
        '00-abc-def-01',
      ],
      MAX,
    );
    expect(envelope).toMatchObject({
      source: 'orchestrator',
      subject: 'dep-1',
      time: '2026-01-01T00:00:00Z',
      causationid: 'c0',
      traceparent: '00-abc-def-01',
      data: null,
    });
  });

  it('names every missing required field', () => {
    expect(reasonOf(['source', 'x'])).toBe('missing required fields: id, type, data');
    expect(reasonOf(['id', 'e1', 'type', 't'])).toBe('missing required field: data');
  });

  it('rejects data that is not JSON', () => {
    expect(reasonOf(['id', 'e1', 'type', 't', 'data', '{oops'])).toBe('data is not valid JSON');
  });

  it('rejects an entry over the size limit, saying how big it is', () => {
    const fields = ['id', 'e1', 'type', 't', 'data', JSON.stringify('x'.repeat(400))];
    expect(reasonOf(fields, 300)).toBe(
      `entry is ${entryBytes(fields)} bytes, over MAX_EVENT_BYTES (300)`,
    );
  });

  it('counts multi-byte characters as bytes', () => {
    expect(entryBytes(['é'])).toBe(2);
  });

  it('rejects an odd field list and an unknown specversion', () => {
    expect(reasonOf(['id'])).toBe('entry has an odd number of fields');
    expect(reasonOf(['specversion', '0.3', 'id', 'e', 'type', 't', 'data', '1'])).toMatch(
      /unsupported specversion/,
    );
  });
});

describe('encodeEnvelope', () => {
  it('writes the attributes in a fixed order, data as JSON, absent ones left out', () => {
    expect(
      encodeEnvelope({
        specversion: '1.0',
        id: 'e1',
        type: 't',
        datacontenttype: 'application/json',
        data: { ok: true },
      }),
    ).toEqual([
      'specversion',
      '1.0',
      'id',
      'e1',
      'type',
      't',
      'datacontenttype',
      'application/json',
      'data',
      '{"ok":true}',
    ]);
  });

  it('round-trips through parseEnvelope', () => {
    const envelope = buildOutputEnvelope(
      { type: 'validation:completed', data: { valid: true } },
      {
        worker: 'validator',
        cause: parseEnvelope(['id', 'in-1', 'type', 't', 'subject', 'dep-9', 'data', '{}'], MAX),
      },
    );
    expect(parseEnvelope(encodeEnvelope(envelope), MAX)).toEqual(envelope);
  });
});

describe('buildOutputEnvelope', () => {
  const cause = parseEnvelope(
    [
      'id',
      'in-1',
      'type',
      'deployment:started',
      'subject',
      'dep-1',
      'traceparent',
      'tp',
      'data',
      '{}',
    ],
    MAX,
  );
  const now = new Date('2026-02-03T04:05:06.000Z');

  it('gives the output a new UUID, its source, time, causation and the trace context', () => {
    const out = buildOutputEnvelope(
      { type: 'validation:completed', data: { x: 1 } },
      { worker: 'validator', cause, now },
    );
    expect(out.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out).toMatchObject({
      specversion: '1.0',
      type: 'validation:completed',
      source: 'printery/validator',
      subject: 'dep-1',
      time: '2026-02-03T04:05:06.000Z',
      datacontenttype: 'application/json',
      data: { x: 1 },
      causationid: 'in-1',
      traceparent: 'tp',
    });
  });

  it("carries the handling span's traceparent instead of the input's when tracing", () => {
    const own = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const context = { worker: 'validator', cause, now, traceparent: own };
    expect(buildOutputEnvelope({ type: 't', data: 1 }, context).traceparent).toBe(own);
    const fields = encodeOutputEnvelope({ type: 't', data: 1 }, context);
    expect(fields[fields.indexOf('traceparent') + 1]).toBe(own);
  });

  it('uses the subject the handler gives over the input one', () => {
    const out = buildOutputEnvelope(
      { type: 't', data: null, subject: 'other' },
      { worker: 'notifier', cause, now },
    );
    expect(out.subject).toBe('other');
  });

  it('leaves traceparent and subject out when the input has none', () => {
    const bare = parseEnvelope(['id', 'in-2', 'type', 't', 'data', '1'], MAX);
    const out = buildOutputEnvelope({ type: 't', data: 1 }, { worker: 'health', cause: bare, now });
    expect(out).not.toHaveProperty('traceparent');
    expect(out).not.toHaveProperty('subject');
    expect(out.id).not.toBe(
      buildOutputEnvelope({ type: 't', data: 1 }, { worker: 'health', cause: bare, now }).id,
    );
  });
});

describe('encodeOutputEnvelope', () => {
  const now = new Date('2026-02-03T04:05:06.000Z');
  const withId = (fields: string[]): string[] =>
    fields.map((value, i) => (fields[i - 1] === 'id' ? 'ID' : value));

  it.each([
    ['with subject and trace context', ['subject', 'dep-1', 'traceparent', 'tp'], undefined],
    ['with a subject from the handler', ['subject', 'dep-1'], 'other'],
    ['without subject or trace context', [], undefined],
  ])('writes the same fields as encodeEnvelope(buildOutputEnvelope()) %s', (_, extra, subject) => {
    const cause = parseEnvelope(['id', 'in-1', 'type', 't', ...extra, 'data', '{}'], MAX);
    const output = { type: 'validation:completed', data: { x: [1, 'é'] }, subject };
    const context = { worker: 'validator', cause, now };
    const fast = encodeOutputEnvelope(output, context);
    expect(withId(fast)).toEqual(withId(encodeEnvelope(buildOutputEnvelope(output, context))));
    expect(fast[fast.indexOf('id') + 1]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('replay addressing', () => {
  const fields = ['id', 'e1', 'type', 'validation:completed', 'data', '{}'];

  it('adds replayfor, replacing an earlier one, and parseEnvelope reads it back', () => {
    const once = withReplayTarget(fields, 'printery-notifier');
    const twice = withReplayTarget(once, 'printery-dependency');
    expect(twice).toEqual([...fields, 'replayfor', 'printery-dependency']);
    expect(parseEnvelope(twice, MAX).replayfor).toBe('printery-dependency');
    expect(parseEnvelope(fields, MAX).replayfor).toBeUndefined();
  });

  it('finds the target in raw fields, even of an entry that is not a valid envelope', () => {
    expect(replayTarget(['data', '{nope', 'replayfor', 'printery-health'])).toBe('printery-health');
    expect(replayTarget(['replayfor', ''])).toBeUndefined();
    expect(replayTarget(fields)).toBeUndefined();
  });

  it('is never copied to an output', () => {
    const cause = parseEnvelope(withReplayTarget(fields, 'printery-notifier'), MAX);
    const out = encodeOutputEnvelope({ type: 'x', data: {} }, { worker: 'notifier', cause });
    expect(out).not.toContain('replayfor');
  });
});
