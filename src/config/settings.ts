import { LOG_LEVELS, RUNTIME_ENVIRONMENTS } from './app-config';
import { WORKER_NAMES } from './worker-names';
import {
  boolean,
  duration,
  hostPatternList,
  httpUrlList,
  nonEmpty,
  nonEmptyString,
  oneOf,
  type Parsed,
  streamId,
  stringList,
  wholeNumber,
  workerList,
  workerSelection,
} from './parsers';
import { REDIS_SETTINGS } from './redis-settings';
import { TRACING_SETTINGS } from './tracing-settings';

export { type Parsed, toList } from './parsers';

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
    parse: nonEmptyString,
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
  ...REDIS_SETTINGS,
  ...SUPERVISOR,
  ...STREAMS,
  ...WORKERS,
  ...VALIDATION,
  ...NOTIFY,
  ...TRACING_SETTINGS,
];
