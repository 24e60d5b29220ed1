import { formatDuration, parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['1500', 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.5s', 1500],
    [250, 250],
  ])('reads %p as %p ms', (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each(['', 'abc', '10x', '-5', '5 minutes', 's'])('refuses %p', (raw) => {
    expect(parseDuration(raw)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('writes the largest whole unit back', () => {
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(30_000)).toBe('30s');
  });
});
