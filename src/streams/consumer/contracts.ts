import type { RedisOptions } from 'ioredis';
import type { RedisClient } from '../../redis/connection-factory';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { AppConfig } from '../../config/app-config';
import type { Tracing } from '../../tracing/tracing';
import type { ConsumerSpec } from '../handler';

/** Settings the runtime reads from AppConfig (`streams.*` and the hang bound). */
export type ConsumerSettings = AppConfig['streams'] &
  Pick<AppConfig['supervisor'], 'hangThresholdMs'>;

/** The SPEC §6 metrics the runtime feeds, labelled by worker. */
export interface ConsumerMetrics {
  processed: Counter;
  processingSeconds: Histogram;
  inFlight: Gauge;
  deadLetters: Counter;
  errors: Counter;
}

/** Cumulative per-worker counters. Owned by the worker so they outlive one consumer. */
export interface WorkerCounters {
  processed: number;
  failed: number;
  deadLettered: number;
  /**
   * Highest entry id committed per stream key by any of the worker's
   * consumers: where a lost group is recreated from, even by a consumer
   * started after the one that did the committing. Created by the first
   * consumer when absent.
   */
  lastCommitted?: Map<string, string>;
}

/** Structured logger: fields first, constant message (PinoLogger and pino both fit). */
export interface ConsumerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Opens a new, lazily connecting Redis connection (RedisService.createConnection). */
export type ConnectionFactory = (name: string, overrides: RedisOptions) => RedisClient;

/** What a StreamConsumer is built from. */
export interface StreamConsumerOptions {
  spec: ConsumerSpec;
  settings: ConsumerSettings;
  connect: ConnectionFactory;
  metrics: ConsumerMetrics;
  logger: ConsumerLogger;
  counters: WorkerCounters;
  /** Name within the group; defaults to `<host>:<pid>:<random>`, unique per start. */
  consumerName?: string;
  /** How long a non-blocking command may wait for its reply; defaults to 10 s. */
  commandTimeoutMs?: number;
  /** A consumer span per handled entry (SPEC §8); none when absent. */
  tracing?: Tracing;
}

/** What the consumer says about itself; the worker adds its counters. */
export interface ConsumerHealth {
  healthy: boolean;
  reason?: string;
  /** Unhealthy only because a connection is down and reconnecting. */
  waitingForRedis?: boolean;
  lastLoopAt?: number;
  inFlight: number;
  details: Record<string, unknown>;
}

/** Who a part of a consumer works for and where it logs: the same for all its parts. */
export interface ConsumerScope {
  worker: string;
  group: string;
  consumerName: string;
  log: ConsumerLogger;
}

/** A handler did not settle within the worker's `handlerTimeoutMs`. */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError';
}

/** The consumer is stopping and its drain deadline has passed. */
export class StopDeadlineError extends Error {
  override readonly name = 'StopDeadlineError';
}

/** The keep-alive found the entry owned by another consumer: not ours to commit. */
export class ClaimLostError extends Error {
  override readonly name = 'ClaimLostError';
}
