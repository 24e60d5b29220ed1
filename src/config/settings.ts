import { z } from 'zod';
import { parseDuration } from './duration';
import { LOG_LEVELS, RUNTIME_ENVIRONMENTS } from './app-config';
import { WORKER_NAMES, isWorkerName } from './worker-names';
import { allowListProblems } from '../net/host-allow-list';
import { TRACING_SETTINGS } from './tracing-settings';

/** Result of parsing one raw setting value. */
export type Parsed = { ok: true; value: unknown } | { ok: false; expected: string };

export interface SettingDef {
  /** Dotted path in AppConfig and in the YAML files. */
  path: string;
  env?: string;
  /** `run`/`config` flag, without the leading dashes. */
  flag?: string;
  default: unknown;
  parse: (raw: unknown) => Parsed;
  /** Never echoed back in errors or output. */
  secret?: boolean;
  /**
   * Read from the environment only, never from config files: for variables
   * a library reads from the environment itself (OpenTelemetry's), so the
   * service and the library cannot disagree about the value.
   */
  envOnly?: boolean;
}

const ok = (value: unknown): Parsed => ({ ok: true, value });
const bad = (expected: string): Parsed => ({ ok: false, expected });

function fromZod<T>(schema: z.ZodType<T>, expected: string): (raw: unknown) => Parsed {
  return (raw) => {
    const result = schema.safeParse(typeof raw === 'string' ? raw.trim() : raw);
    return result.success ? ok(result.data) : bad(expected);
  };
}

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
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

const duration =
  (min = 0) =>
  (raw: unknown): Parsed => {
    const ms = typeof raw === 'number' || typeof raw === 'string' ? parseDuration(raw) : undefined;
    return ms !== undefined && ms >= min
      ? ok(ms)
      : bad(
          `a duration${min > 0 ? ` of at least ${min}ms` : ''}: milliseconds or a number with ms, s, m or h (500ms, 30s, 2m)`,
        );
  };

const oneOf = (values: readonly string[]) =>
  fromZod(z.enum(values as [string, ...string[]]), `one of ${values.join(', ')}`);

const boolean = fromZod(
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

const nonEmpty = (expected: string) => fromZod(z.string().min(1).regex(/^\S+$/), expected);

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

const stringList = (raw: unknown): Parsed => {
  const list = toList(raw);
  return list ? ok(list) : bad('a comma-separated list');
};

const hostPatternList = (raw: unknown): Parsed => {
  const list = toList(raw);
  const problems = list ? allowListProblems(list) : [];
  return list && problems.length === 0
    ? ok(list)
    : bad(
        `a comma list of hosts, *.suffix patterns, IP addresses or CIDR ranges${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`,
      );
};

const httpUrlList = (raw: unknown): Parsed => {
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

const workerSelection = (raw: unknown): Parsed => {
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

const workerList = (raw: unknown): Parsed => {
  const list = toList(raw);
  return list && list.every(isWorkerName)
    ? ok(list)
    : bad(`a list of worker names (${WORKER_NAMES.join(', ')})`);
};

const redisUrl = (raw: unknown): Parsed => {
  const expected =
    'a URL like redis://host:6379/0 (user and password allowed), or rediss://… for TLS';
  if (typeof raw !== 'string') {
    return bad(expected);
  }
  try {
    const url = new URL(raw.trim());
    const db = url.pathname.replace(/^\//, '');
    if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
      return bad(expected);
    }
    if (db !== '' && !/^\d+$/.test(db)) {
      return bad(expected);
    }
    return ok(raw.trim());
  } catch {
    return bad(expected);
  }
};

const streamId = fromZod(
  z.string().regex(/^(\$|0|\d+(-\d+)?)$/),
  '0, $ or a stream id such as 1700000000000-0',
);

const SUPERVISOR: SettingDef[] = [
  {
    path: 'supervisor.workers',
    env: 'WORKER_MODE',
    flag: 'worker',
    default: [...WORKER_NAMES],
    parse: workerSelection,
  },
  {
    path: 'supervisor.supervised',
    env: 'SUPERVISED_MODE',
    flag: 'supervised',
    default: false,
    parse: boolean,
  },
  {
    path: 'supervisor.maxRestartAttempts',
    env: 'MAX_RESTART_ATTEMPTS',
    flag: 'max-restarts',
    default: 3,
    parse: wholeNumber(0, 1000),
  },
  {
    path: 'supervisor.restartBackoffMs',
    env: 'RESTART_BACKOFF_MS',
    flag: 'backoff',
    default: 1000,
    parse: duration(1),
  },
  {
    path: 'supervisor.restartBackoffMaxMs',
    env: 'RESTART_BACKOFF_MAX_MS',
    default: 60_000,
    parse: duration(1),
  },
  {
    path: 'supervisor.stablePeriodMs',
    env: 'RESTART_STABLE_PERIOD_MS',
    default: 60_000,
    parse: duration(1),
  },
  {
    path: 'supervisor.healthCheckIntervalMs',
    env: 'HEALTH_CHECK_INTERVAL_MS',
    flag: 'health-check-interval',
    default: 30_000,
    parse: duration(10),
  },
  {
    path: 'supervisor.hangThresholdMs',
    env: 'HANG_THRESHOLD_MS',
    default: 30_000,
    parse: duration(10),
  },
  {
    path: 'supervisor.startTimeoutMs',
    env: 'WORKER_START_TIMEOUT_MS',
    default: 15_000,
    parse: duration(1),
  },
  {
    path: 'supervisor.shutdownTimeoutMs',
    env: 'SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout',
    default: 30_000,
    parse: duration(0),
  },
];

const STREAMS: SettingDef[] = [
  {
    path: 'streams.prefix',
    env: 'STREAM_PREFIX',
    default: 'materi:events:deployment',
    parse: nonEmpty('a non-empty key prefix without spaces'),
  },
  {
    path: 'streams.registryPrefix',
    env: 'REGISTRY_PREFIX',
    default: 'materi:registry',
    parse: nonEmpty('a non-empty key prefix without spaces'),
  },
  { path: 'streams.groupStartId', env: 'GROUP_START_ID', default: '0', parse: streamId },
  { path: 'streams.maxLen', env: 'STREAM_MAXLEN', default: 0, parse: wholeNumber(0) },
  { path: 'streams.maxDeliveries', env: 'MAX_DELIVERIES', default: 5, parse: wholeNumber(1, 1000) },
  { path: 'streams.claimIdleMs', env: 'CLAIM_IDLE_MS', default: 60_000, parse: duration(100) },
  {
    path: 'streams.maxEventBytes',
    env: 'MAX_EVENT_BYTES',
    default: 65_536,
    parse: wholeNumber(256),
  },
  { path: 'streams.blockMs', env: 'STREAM_BLOCK_MS', default: 5000, parse: duration(10) },
];

const WORKERS: SettingDef[] = WORKER_NAMES.flatMap((name): SettingDef[] => {
  const envName = name.toUpperCase();
  const defaults = {
    validator: { concurrency: 1, dependsOn: [], handlerTimeoutMs: 10_000 },
    dependency: { concurrency: 5, dependsOn: ['validator'], handlerTimeoutMs: 10_000 },
    health: { concurrency: 10, dependsOn: ['validator'], handlerTimeoutMs: 300_000 },
    // Notifier: room for NOTIFY_MAX_ATTEMPTS × request timeout plus capped Retry-After waits.
    notifier: { concurrency: 5, dependsOn: ['validator'], handlerTimeoutMs: 300_000 },
  }[name];
  return [
    {
      path: `workers.${name}.concurrency`,
      env: `${envName}_CONCURRENCY`,
      default: defaults.concurrency,
      parse: wholeNumber(1, 1000),
    },
    { path: `workers.${name}.dependsOn`, default: defaults.dependsOn, parse: workerList },
    {
      path: `workers.${name}.handlerTimeoutMs`,
      env: `${envName}_HANDLER_TIMEOUT_MS`,
      default: defaults.handlerTimeoutMs,
      parse: duration(1),
    },
  ];
});

const VALIDATION: SettingDef[] = [
  {
    path: 'validation.deployEnvironments',
    env: 'DEPLOY_ENVIRONMENTS',
    default: ['development', 'staging', 'production'],
    parse: stringList,
  },
  {
    path: 'validation.healthCheckAllowedHosts',
    env: 'HEALTHCHECK_ALLOWED_HOSTS',
    default: [],
    parse: hostPatternList,
  },
  {
    path: 'validation.notifyAllowedHosts',
    env: 'NOTIFY_ALLOWED_HOSTS',
    default: [],
    parse: hostPatternList,
  },
  {
    path: 'validation.healthCheck.maxAttempts',
    env: 'HEALTHCHECK_MAX_ATTEMPTS',
    default: 30,
    parse: wholeNumber(1, 1000),
  },
  {
    path: 'validation.healthCheck.maxTimeoutMs',
    env: 'HEALTHCHECK_MAX_TIMEOUT_MS',
    default: 10_000,
    parse: duration(1),
  },
  {
    path: 'validation.healthCheck.maxIntervalMs',
    env: 'HEALTHCHECK_MAX_INTERVAL_MS',
    default: 30_000,
    parse: duration(0),
  },
  {
    path: 'validation.inputDedupeTtlMs',
    env: 'INPUT_DEDUPE_TTL_MS',
    default: 24 * 3_600_000,
    parse: duration(1000),
  },
];

const NOTIFY: SettingDef[] = [
  {
    path: 'notify.webhookUrls',
    env: 'NOTIFY_WEBHOOK_URLS',
    default: [],
    parse: httpUrlList,
    secret: true,
  },
  {
    path: 'notify.webhookSecret',
    env: 'NOTIFY_WEBHOOK_SECRET',
    default: undefined,
    parse: fromZod(z.string().min(1), 'a non-empty string'),
    secret: true,
  },
  {
    path: 'notify.maxAttempts',
    env: 'NOTIFY_MAX_ATTEMPTS',
    default: 5,
    parse: wholeNumber(1, 100),
  },
  { path: 'notify.backoffMs', env: 'NOTIFY_BACKOFF_MS', default: 500, parse: duration(1) },
  {
    path: 'notify.dedupeTtlMs',
    env: 'NOTIFY_DEDUPE_TTL_MS',
    default: 7 * 24 * 3_600_000,
    parse: duration(1000),
  },
  {
    path: 'notify.requestTimeoutMs',
    env: 'NOTIFY_REQUEST_TIMEOUT_MS',
    default: 10_000,
    parse: duration(1),
  },
];

/** Every setting, with where it can come from and what it accepts. */
export const SETTINGS: readonly SettingDef[] = [
  {
    path: 'environment',
    env: 'ENVIRONMENT',
    flag: 'environment',
    default: 'development',
    parse: oneOf(RUNTIME_ENVIRONMENTS),
  },
  {
    path: 'logLevel',
    env: 'LOG_LEVEL',
    flag: 'log-level',
    default: 'info',
    parse: oneOf(LOG_LEVELS),
  },
  { path: 'port', env: 'PORT', flag: 'port', default: 3000, parse: wholeNumber(0, 65_535) },
  {
    path: 'redis.url',
    env: 'REDIS_URL',
    flag: 'redis-url',
    default: 'redis://localhost:6379',
    parse: redisUrl,
    secret: true,
  },
  {
    path: 'redis.startupTimeoutMs',
    env: 'STARTUP_TIMEOUT_MS',
    default: 30_000,
    parse: duration(0),
  },
  ...SUPERVISOR,
  ...STREAMS,
  ...WORKERS,
  ...VALIDATION,
  ...NOTIFY,
  ...TRACING_SETTINGS,
];
