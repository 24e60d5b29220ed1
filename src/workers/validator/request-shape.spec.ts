import { MAX_REQUEST_DEPTH, withinDepth } from './request-shape';

describe('withinDepth', () => {
  it('cuts a document too deep to serialise to one JSON.stringify writes, keeping the top', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i++) {
      deep = { a: deep };
    }
    const cut = withinDepth({ service: 'billing-api', labels: deep }) as Record<string, unknown>;
    expect(cut.service).toBe('billing-api');
    const text = JSON.stringify(cut);
    expect(text.match(/\{/g)).toHaveLength(MAX_REQUEST_DEPTH);
    expect(text.endsWith(`null${'}'.repeat(MAX_REQUEST_DEPTH)}`)).toBe(true);
  });

  it('leaves a shallow document as it is, an own __proto__ key still a key', () => {
    const data = JSON.parse('{"notify":[{"url":"u"}],"__proto__":{"x":1}}') as unknown;
    const kept = withinDepth(data) as Record<string, unknown>;
    expect(JSON.stringify(kept)).toBe(JSON.stringify(data));
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
  });
});
