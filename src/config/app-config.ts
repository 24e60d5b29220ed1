import type { RedisConfig } from './redis-settings';
import type { TracingConfig } from './tracing-settings';
import type { WorkerName } from './worker-names';

export const RUNTIME_ENVIRONMENTS = ['development', 'staging', 'production'] as const;
export type RuntimeEnvironment = (typeof RUNTIME_ENVIRONMENTS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface WorkerSettings {
  /** Hard bound on entries in flight for this worker in one process. */
  concurrency: number;
  /** Workers that must be ready before this one starts. */
  dependsOn: WorkerName[];
  /** A handler running longer than this counts as failed. */
  handlerTimeoutMs: number;
}

/** The effective, validated configuration. Built once by `loadConfig`. */
export interface AppConfig {
  environment: RuntimeEnvironment;
  logLevel: LogLevel;
  port: number;
  redis: RedisConfig;
  supervisor: {
    /** Workers this process runs. */
    workers: WorkerName[];
    supervised: boolean;
    maxRestartAttempts: number;
    restartBackoffMs: number;
    restartBackoffMaxMs: number;
    /** A worker healthy this long has its restart count reset. */
    stablePeriodMs: number;
    healthCheckIntervalMs: number;
    /** A read loop that has not polled for this long is hung. */
    hangThresholdMs: number;
    /** A worker not ready this long after start() counts as a failed start. */
    startTimeoutMs: number;
    shutdownTimeoutMs: number;
  };
  streams: {
    prefix: string;
    registryPrefix: string;
    groupStartId: string;
    /** Approximate MAXLEN for output streams; 0 = uncapped. */
    maxLen: number;
    maxDeliveries: number;
    claimIdleMs: number;
    maxEventBytes: number;
    /** How long one XREADGROUP blocks waiting for entries. */
    blockMs: number;
  };
  workers: Record<WorkerName, WorkerSettings>;
  validation: {
    /** Deployment target environments a request may name. */
    deployEnvironments: string[];
    healthCheckAllowedHosts: string[];
    notifyAllowedHosts: string[];
    healthCheck: {
      maxAttempts: number;
      maxTimeoutMs: number;
      maxIntervalMs: number;
    };
    /** How long an accepted deployment:started (source + id) makes a producer's retry a duplicate. */
    inputDedupeTtlMs: number;
  };
  notify: {
    webhookUrls: string[];
    webhookSecret: string | undefined;
    maxAttempts: number;
    backoffMs: number;
    /** How long delivered targets are remembered for de-duplication. */
    dedupeTtlMs: number;
    requestTimeoutMs: number;
  };
  tracing: TracingConfig;
}
