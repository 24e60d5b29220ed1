import { RedisOutage } from './redis-outage';

describe('RedisOutage', () => {
  it('starts with the first lost connection and ends when the last one is back', () => {
    let now = 1000;
    const outage = new RedisOutage(() => now);
    expect(outage.lost('main')).toBe(true);
    expect(outage.lost('validator:read')).toBe(false);
    expect(outage.lost('main')).toBe(false);
    now = 16_000;
    expect(outage.back('main')).toBeUndefined();
    expect(outage.active).toBe(true);
    now = 16_200;
    expect(outage.back('validator:read')).toEqual({ downMs: 15_200, connections: 2, repeats: {} });
    expect(outage.active).toBe(false);
  });

  it('counts what fails meanwhile instead of letting it be logged, and starts afresh after', () => {
    const outage = new RedisOutage(() => 0);
    expect(outage.absorb('consumer.read_failed')).toBe(false);
    outage.lost('main');
    expect(outage.absorb('group.recreate_failed')).toBe(true);
    expect(outage.absorb('group.recreate_failed')).toBe(true);
    expect(outage.absorb('consumer.read_failed')).toBe(true);
    expect(outage.back('main')?.repeats).toEqual({
      'group.recreate_failed': 2,
      'consumer.read_failed': 1,
    });
    outage.lost('main');
    expect(outage.back('main')?.repeats).toEqual({});
  });

  it('ignores a connection that was never lost', () => {
    const outage = new RedisOutage();
    expect(outage.back('main')).toBeUndefined();
    outage.lost('main');
    expect(outage.back('other')).toBeUndefined();
    expect(outage.active).toBe(true);
  });
});
