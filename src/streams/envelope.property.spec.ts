import fc from 'fast-check';
import { InvalidEntryError } from '../errors/invalid-entry.error';
import {
  ENVELOPE_ATTRIBUTES,
  encodeEnvelope,
  entryBytes,
  type Envelope,
  parseEnvelope,
} from './envelope';

const NAMES = [...ENVELOPE_ATTRIBUTES, '__proto__', 'constructor', 'toString'];
const OPTIONAL = ['source', 'subject', 'time', 'causationid', 'traceparent', 'replayfor'] as const;

/** JSON text nested `depth` levels deep, in arrays or objects. */
const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 30_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `${'['.repeat(depth)}${']'.repeat(depth)}`
      : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

/** A field value: text, JSON (prototype keys too), the CloudEvents version, or a big blob. */
const shallowValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.json({ maxDepth: 4 }),
  fc.constant('{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}'),
  fc.constantFrom('1.0', '0.3', '', ' '),
  fc.nat(70_000).map((size) => 'x'.repeat(size)),
);

/** Any of those, or JSON nested deeper than a recursive reader or writer copes with. */
const value = fc.oneof({ weight: 5, arbitrary: shallowValue }, { weight: 1, arbitrary: deepJson });

/**
 * A flat field list as XREADGROUP could return it: name/value pairs, the
 * required names often among them, repeated names, now and then a stray
 * odd field.
 */
const fieldListOf = (value: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.tuple(fc.constantFrom('id', 'type', 'data'), value) },
          { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...NAMES), value) },
          { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), value) },
        ),
        { maxLength: 12 },
      ),
      fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: value }),
    )
    .map(([pairs, stray]) => [...pairs.flat(), ...(stray === null ? [] : [stray])]);
const fieldList = fieldListOf(value);

/** The outcome of one parse, comparable across runs. */
function outcomeOf(fields: string[], maxBytes: number): Envelope | string {
  try {
    return parseEnvelope(fields, maxBytes);
  } catch (error) {
    if (!(error instanceof InvalidEntryError)) {
      throw error;
    }
    return `invalid: ${error.message}`;
  }
}

describe('parseEnvelope (properties)', () => {
  it('returns a typed envelope or throws InvalidEntryError, never anything else, for any field list', () => {
    fc.assert(
      fc.property(fieldList, fc.integer({ min: 0, max: 100_000 }), (fields, maxBytes) => {
        const outcome = outcomeOf(fields, maxBytes);
        if (typeof outcome === 'string') {
          return;
        }
        expect(Object.getPrototypeOf(outcome)).toBe(Object.prototype);
        expect(outcome.specversion).toBe('1.0');
        for (const required of [outcome.id, outcome.type, outcome.datacontenttype]) {
          expect(typeof required === 'string' && required !== '').toBe(true);
        }
        for (const name of OPTIONAL) {
          const attribute = outcome[name];
          expect(
            attribute === undefined || (typeof attribute === 'string' && attribute !== ''),
          ).toBe(true);
        }
        expect(fields.length % 2).toBe(0);
        expect(entryBytes(fields)).toBeLessThanOrEqual(maxBytes);
      }),
      { numRuns: 1500 },
    );
  });

  it('gives the same verdict every time', () => {
    fc.assert(
      // Shallow data only: jest's deep equality recurses.
      fc.property(fieldListOf(shallowValue), (fields) => {
        expect(outcomeOf(fields, 65_536)).toEqual(outcomeOf([...fields], 65_536));
      }),
      { numRuns: 500 },
    );
  });

  it('reads back every envelope it encodes', () => {
    const text = fc.string({ minLength: 1, maxLength: 30 });
    const envelope = fc.record(
      {
        id: text,
        type: text,
        source: text,
        subject: text,
        time: text,
        causationid: text,
        traceparent: text,
        replayfor: text,
        data: fc.jsonValue({ maxDepth: 5 }),
      },
      { requiredKeys: ['id', 'type', 'data'] },
    );
    fc.assert(
      fc.property(envelope, (partial) => {
        const written: Envelope = {
          specversion: '1.0',
          datacontenttype: 'application/json',
          ...partial,
          // What JSON can carry: -0 is read back as 0.
          data: JSON.parse(JSON.stringify(partial.data)) as unknown,
        };
        expect(parseEnvelope(encodeEnvelope(written), 1_000_000)).toEqual(written);
      }),
      { numRuns: 500 },
    );
  });
});
