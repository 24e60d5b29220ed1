import { z } from 'zod';
import { parseDuration } from './duration';
import { WORKER_NAMES, isWorkerName } from './worker-names';
import { allowListProblems } from '../net/host-allow-list';

/** Result of parsing one raw setting value. */
export type Parsed = { ok: true; value: unknown } | { ok: false; expected: string };

export const ok = (value: unknown): Parsed => ({ ok: true, value });
export const bad = (expected: string): Parsed => ({ ok: false, expected });

export function fromZod<T>(schema: z.ZodType<T>, expected: string): (raw: unknown) => Parsed {
  return (raw) => {
    const result = schema.safeParse(typeof raw === 'string' ? raw.trim() : raw);
    return result.success ? ok(result.data) : bad(expected);
  };
}

export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  fromZod(
    z
      .union([
        z.number(),
        z
          .string()
          .regex(/^-?\d+$/)
          .transform(Number),
      ])
      .pipe(z.number().int().min(min).max(max)),
    max === Number.MAX_SAFE_INTEGER
      ? `a whole number >= ${min}`
      : `a whole number from ${min} to ${max}`,
  );

export const duration =
  (min = 0) =>
  (raw: unknown): Parsed => {
    const ms = typeof raw === 'number' || typeof raw === 'string' ? parseDuration(raw) : undefined;
    return ms !== undefined && ms >= min
      ? ok(ms)
      : bad(
          `a duration${min > 0 ? ` of at least ${min}ms` : ''}: milliseconds or a number with ms, s, m or h (500ms, 30s, 2m)`,
        );
  };

export const oneOf = (values: readonly string[]) =>
  fromZod(z.enum(values as [string, ...string[]]), `one of ${values.join(', ')}`);

export const boolean = fromZod(
  z.union([
    z.boolean(),
    z
      .string()
      .toLowerCase()
      .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  ]),
  'one of true, false, yes, no, 1, 0',
);

export const nonEmpty = (expected: string) => fromZod(z.string().min(1).regex(/^\S+$/), expected);

/** A comma list (env, flags) or a YAML list; empty entries dropped. */
export function toList(raw: unknown): string[] | undefined {
  if (Array.isArray(raw)) {
    return raw.every((item) => typeof item === 'string')
      ? raw.map((item: string) => item.trim()).filter(Boolean)
      : undefined;
  }
  if (typeof raw === 'string') {
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
  return undefined;
}

export const nonEmptyString = fromZod(z.string().min(1), 'a non-empty string');

export const stringList = (raw: unknown): Parsed => {
  const list = toList(raw);
  return list ? ok(list) : bad('a comma-separated list');
};

export const hostPatternList = (raw: unknown): Parsed => {
  const list = toList(raw);
  const problems = list ? allowListProblems(list) : [];
  return list && problems.length === 0
    ? ok(list)
    : bad(
        `a comma list of hosts, *.suffix patterns, IP addresses or CIDR ranges${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`,
      );
};

export const httpUrlList = (raw: unknown): Parsed => {
  const list = toList(raw);
  const valid = list?.every((item) => {
    try {
      const url = new URL(item);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  });
  return list && valid ? ok(list) : bad('a comma-separated list of http(s) URLs');
};

export const workerSelection = (raw: unknown): Parsed => {
  const list = toList(raw);
  const expected = `all, or a comma list of ${WORKER_NAMES.join(', ')}`;
  if (!list || list.length === 0) {
    return bad(expected);
  }
  if (list.length === 1 && list[0] === 'all') {
    return ok([...WORKER_NAMES]);
  }
  if (!list.every(isWorkerName)) {
    return bad(expected);
  }
  // Keep the canonical order and drop repeats.
  return ok(WORKER_NAMES.filter((name) => list.includes(name)));
};

export const workerList = (raw: unknown): Parsed => {
  const list = toList(raw);
  return list && list.every(isWorkerName)
    ? ok(list)
    : bad(`a list of worker names (${WORKER_NAMES.join(', ')})`);
};

export const streamId = fromZod(
  z.string().regex(/^(\$|0|\d+(-\d+)?)$/),
  '0, $ or a stream id such as 1700000000000-0',
);
