import { restartBackoff } from './backoff';

describe('restartBackoff', () => {
  const base = 1000;
  const cap = 10_000;

  it('doubles from the base delay up to the cap when jitter draws nothing', () => {
    const sequence = [0, 1, 2, 3, 4, 5, 6].map((n) => restartBackoff(n, base, cap, () => 0));
    expect(sequence).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('shortens each delay by at most the jitter fraction', () => {
    const sequence = [0, 1, 2, 3, 4].map((n) => restartBackoff(n, base, cap, () => 1));
    expect(sequence).toEqual([800, 1600, 3200, 6400, 8000]);
  });

  it('stays within [nominal * 0.8, nominal] for any random draw', () => {
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const nominal = Math.min(cap, base * 2 ** attempt);
      for (let i = 0; i <= 100; i += 1) {
        const delay = restartBackoff(attempt, base, cap, () => i / 100);
        expect(delay).toBeGreaterThanOrEqual(Math.round(nominal * 0.8));
        expect(delay).toBeLessThanOrEqual(nominal);
      }
    }
  });

  it('spreads workers that fail together over different delays', () => {
    const draws = [0.1, 0.5, 0.9];
    const delays = draws.map((r) => restartBackoff(2, base, cap, () => r));
    expect(new Set(delays).size).toBe(3);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(restartBackoff(5000, base, cap, () => 0)).toBe(cap);
    expect(restartBackoff(5000, base, cap, Math.random)).toBeLessThanOrEqual(cap);
  });

  it('uses the cap when the base is larger than the cap', () => {
    expect(restartBackoff(0, 20_000, cap, () => 0)).toBe(cap);
  });
});
