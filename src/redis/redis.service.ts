import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { RedisOptions } from 'ioredis';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { APP_CONFIG, type AppConfig } from '../config';
import { describeRedisTopology, type RedisTopology, redisTopology } from '../config/redis-topology';
import { redactText } from '../logging/redact';
import { checkSelectedDb, describeAuthError, isAuthError } from './connection-checks';
import { createRedisClient, isCluster, type RedisClient } from './connection-factory';
import { slotOwnerKey } from './cluster-nodes';
import { watchOutage } from './outage-events';
import { baseRedisOptions } from './redis-options';
import { RedisOutage } from './redis-outage';
import { connectAtStartup } from './startup-connect';

/**
 * Owns every Redis connection of the process: one shared command client and
 * any dedicated connections (blocking reads) created through it, so shutdown
 * can close them all after the workers have drained.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  readonly client: RedisClient;
  /** Which Redis deployment the settings choose (SPEC §2). */
  readonly topology: RedisTopology;
  /** Whether Redis is away right now; parts that fail because of it count their errors here. */
  readonly outage = new RedisOutage();
  private readonly connections = new Set<RedisClient>();
  /**
   * A key in the pipeline's slot: in Cluster mode, probes go to the master
   * the workers write to, and its node is the one whose loss is an outage.
   */
  private readonly slotKey: string;
  private closed = false;
  /** Last error any connection emitted; the reason behind a generic "Connection is closed". */
  private lastConnectionError: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger(RedisService.name) private readonly logger: PinoLogger,
    // Optional so the service also works in a bare testing module.
    @Optional() private readonly lifecycle?: ProcessLifecycle,
  ) {
    this.topology = redisTopology(config.redis);
    // The prefix itself: hash-tagged in Cluster mode, so on every stream's slot.
    this.slotKey = config.streams.prefix;
    this.client = this.createConnection('printery:main');
  }

  /** Display form of the Redis URL, password removed (the seeds or sentinels in their modes). */
  get displayUrl(): string {
    return this.topology.kind === 'standalone'
      ? redactText(this.config.redis.url)
      : describeRedisTopology(this.topology, '');
  }

  /** How messages name the Redis: `Redis at redis://…`, `Redis Cluster (seeds …)`. */
  get display(): string {
    return describeRedisTopology(this.topology, redactText(this.config.redis.url));
  }

  async onModuleInit(): Promise<void> {
    await this.connectAtStartup();
  }

  /**
   * A new connection owned by this service. Use one per blocking reader: a
   * blocked XREADGROUP holds its connection for every other command.
   */
  createConnection(name: string, overrides: RedisOptions = {}): RedisClient {
    const connection = createRedisClient(this.config.redis, {
      ...baseRedisOptions(name),
      ...overrides,
    });
    // The outage is the process's, not the connection's: one line when Redis
    // goes away, one when it is back (a drain closing its connections is no outage).
    watchOutage(connection, this.slotKey, {
      lost: () => {
        if (!this.closed && this.outage.lost(name)) {
          this.logger.warn(
            { event: 'redis.disconnected', url: this.displayUrl, topology: this.topology.kind },
            'lost the connection to Redis; reconnecting, work pauses until it is back',
          );
        }
      },
      back: () => {
        const summary = this.outage.back(name);
        if (summary && !this.closed) {
          this.logger.info(
            {
              event: 'redis.reconnected',
              url: this.displayUrl,
              topology: this.topology.kind,
              downFor: `${(summary.downMs / 1000).toFixed(1)}s`,
              ...summary,
            },
            'connection to Redis is back; work resumes',
          );
        }
      },
      error: (err) => this.onConnectionError(name, err),
    });
    this.connections.add(connection);
    connection.once('end', () => this.connections.delete(connection));
    return connection;
  }

  private onConnectionError(name: string, err: Error): void {
    // A refusal of the credentials stays the cause until start-up clears it
    // for its next attempt: on a Cluster the node's WRONGPASS is followed by
    // "Failed to refresh slots cache", which would hide it.
    if (
      this.lastConnectionError === undefined ||
      !isAuthError(this.lastConnectionError) ||
      isAuthError(err.message)
    ) {
      this.lastConnectionError = err.message;
    }
    // ioredis emits an error per failed reconnect attempt; debug keeps the
    // noise down while readiness and 'redis.disconnected' tell the operator.
    // Refused credentials need a human, so they are not hidden.
    if (isAuthError(err.message)) {
      this.logger.error(
        { event: 'redis.auth_failed', connection: name, err },
        'redis refused the credentials',
      );
    } else {
      this.logger.debug({ event: 'redis.error', connection: name, err }, 'redis connection error');
    }
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  /** PING with its own timeout, so a probe never waits on reconnect backoff. */
  async ping(timeoutMs = 1000): Promise<void> {
    if (!this.isReady()) {
      throw new Error(`not connected (${this.client.status})`);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // In Cluster mode PING would go to any node: EXISTS goes to the pipeline's master.
        isCluster(this.client) ? this.client.exists(this.slotKey) : this.client.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What /status says about the Redis it talks to (SPEC §2: which topology; in Cluster mode, the slot's master). */
  whereabouts(): { topology: RedisTopology['kind']; redis: string; slotOwner?: string } {
    const owner = isCluster(this.client) ? slotOwnerKey(this.client, this.slotKey) : undefined;
    return {
      topology: this.topology.kind,
      redis: this.displayUrl,
      ...(owner ? { slotOwner: owner } : {}),
    };
  }

  /** A refusal of the credentials in an operator's words, for this topology. */
  describeAuthError(cause: string): string {
    return this.topology.kind === 'standalone'
      ? describeAuthError(this.displayUrl, cause)
      : describeAuthError(this.display, cause, false);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections].map((connection) => closeConnection(connection)));
    this.logger.info({ event: 'redis.closed' }, 'redis connections closed');
  }

  /** Retries until STARTUP_TIMEOUT_MS, logging each attempt (startup-connect.ts). */
  private connectAtStartup(): Promise<void> {
    return connectAtStartup({
      client: this.client,
      startupTimeoutMs: this.config.redis.startupTimeoutMs,
      lifecycle: this.lifecycle,
      verify: async () => {
        await this.client.ping();
        await checkSelectedDb(this.client, this.config.redis, this.displayUrl);
      },
      lastError: {
        get: () => this.lastConnectionError,
        clear: () => {
          this.lastConnectionError = undefined;
        },
      },
      describeAuthError: (cause) => this.describeAuthError(cause),
      display: this.display,
      onFailed: (attempt, reason, retryInMs) =>
        this.logger.warn(
          { event: 'redis.connect_failed', url: this.displayUrl, attempt, retryInMs, reason },
          'redis not reachable yet',
        ),
      onConnected: (attempt) =>
        this.logger.info(
          { event: 'redis.connected', url: this.displayUrl, topology: this.topology.kind, attempt },
          'redis connected',
        ),
    });
  }
}

/** How long a graceful QUIT may take before the socket is simply dropped. */
const QUIT_TIMEOUT_MS = 1000;

/**
 * QUIT (so Redis sees a clean goodbye) but never wait on it for long: a
 * paused or unreachable Redis must not hold the process past its drain.
 */
async function closeConnection(connection: RedisClient): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.quit(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
      }),
    ]);
  } catch {
    // The connection is going away either way.
  } finally {
    clearTimeout(timer);
    connection.disconnect();
  }
}
