/**
 * Delay before restart attempt `attempt` (0 for the first restart):
 * `min(capMs, baseMs * 2^attempt)` scaled by a random factor in
 * `[1 - jitter, 1]`. Jitter only shortens the delay, so it never exceeds the
 * cap nor the nominal doubling, and restarts of several workers (or
 * replicas) that failed together spread out instead of hitting Redis at once.
 */
export function restartBackoff(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
  jitter = 0.2,
): number {
  // 2^attempt overflows to Infinity long before it matters; min() caps it.
  const nominal = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  const factor = 1 - jitter * Math.min(1, Math.max(0, random()));
  return Math.max(1, Math.round(nominal * factor));
}
