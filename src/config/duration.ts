const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;

/**
 * Parses a duration given as milliseconds (`1500`) or with a unit
 * (`500ms`, `30s`, `2m`, `1h`, `7d`). Returns undefined when it is not one.
 */
export function parseDuration(raw: string | number): number | undefined {
  if (typeof raw === 'number') {
    return Number.isFinite(raw) && raw >= 0 ? Math.round(raw) : undefined;
  }
  const match = DURATION.exec(raw.trim());
  if (!match?.[1]) {
    return undefined;
  }
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  const ms = Number(match[1]) * UNIT_MS[unit];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Formats milliseconds the way an operator would write them back. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) {
    return `${ms / 3_600_000}h`;
  }
  if (ms % 60_000 === 0 && ms >= 60_000) {
    return `${ms / 60_000}m`;
  }
  if (ms % 1000 === 0 && ms >= 1000) {
    return `${ms / 1000}s`;
  }
  return `${ms}ms`;
}
