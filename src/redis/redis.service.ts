import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import Redis, { type RedisOptions } from 'ioredis';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { APP_CONFIG, type AppConfig } from '../config';
import { StartupError } from '../errors';
import { redactText } from '../logging/redact';
import { checkSelectedDb, describeAuthError, isAuthError } from './connection-checks';
import { baseRedisOptions, reconnectDelay } from './redis-options';
import { RedisOutage } from './redis-outage';

/**
 * Owns every Redis connection of the process: one shared command client and
 * any dedicated connections (blocking reads) created through it, so shutdown
 * can close them all after the workers have drained.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  readonly client: Redis;
  /** Whether Redis is away right now; parts that fail because of it count their errors here. */
  readonly outage = new RedisOutage();
  private readonly connections = new Set<Redis>();
  private closed = false;
  /** Last error any connection emitted; the reason behind a generic "Connection is closed". */
  private lastConnectionError: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger(RedisService.name) private readonly logger: PinoLogger,
    // Optional so the service also works in a bare testing module.
    @Optional() private readonly lifecycle?: ProcessLifecycle,
  ) {
    this.client = this.createConnection('printery:main');
  }

  /** Display form of the Redis URL, password removed. */
  get displayUrl(): string {
    return redactText(this.config.redis.url);
  }

  async onModuleInit(): Promise<void> {
    await this.connectAtStartup();
  }

  /**
   * A new connection owned by this service. Use one per blocking reader: a
   * blocked XREADGROUP holds its connection for every other command.
   */
  createConnection(name: string, overrides: RedisOptions = {}): Redis {
    const connection = new Redis(this.config.redis.url, {
      ...baseRedisOptions(name),
      ...overrides,
    });
    // 'reconnecting' fires only for an unplanned loss (not after quit/disconnect),
    // so a drain closing its connections does not read as an outage. The
    // outage is the process's, not the connection's: one line when Redis
    // goes away, one when it is back.
    let everReady = false;
    connection.on('reconnecting', () => {
      if (everReady && !this.closed && this.outage.lost(name)) {
        this.logger.warn(
          { event: 'redis.disconnected', url: this.displayUrl },
          'lost the connection to Redis; reconnecting, work pauses until it is back',
        );
      }
    });
    const back = (): void => {
      const summary = this.outage.back(name);
      if (summary && !this.closed) {
        this.logger.info(
          {
            event: 'redis.reconnected',
            url: this.displayUrl,
            downFor: `${(summary.downMs / 1000).toFixed(1)}s`,
            ...summary,
          },
          'connection to Redis is back; work resumes',
        );
      }
    };
    connection.on('ready', () => {
      everReady = true;
      back();
    });
    connection.on('error', (err: Error) => {
      this.lastConnectionError = err.message;
      // ioredis emits an error per failed reconnect attempt; debug keeps the
      // noise down while readiness and 'redis.disconnected' tell the operator.
      // Refused credentials need a human, so they are not hidden.
      if (isAuthError(err.message)) {
        this.logger.error(
          { event: 'redis.auth_failed', connection: name, err },
          'redis refused the credentials',
        );
      } else {
        this.logger.debug(
          { event: 'redis.error', connection: name, err },
          'redis connection error',
        );
      }
    });
    this.connections.add(connection);
    connection.once('end', () => {
      this.connections.delete(connection);
      back(); // Closed for good: nothing to wait for any more.
    });
    return connection;
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
        this.client.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections].map((connection) => closeConnection(connection)));
    this.logger.info({ event: 'redis.closed' }, 'redis connections closed');
  }

  /** Waits `ms`; true when a shutdown was requested meanwhile (a signal must not wait out the retries). */
  private async shutdownRequestedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const requested = this.lifecycle?.requested.then(() => true) ?? new Promise<never>(() => {});
    try {
      return await Promise.race([
        requested,
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Retries with backoff until STARTUP_TIMEOUT_MS, logging each attempt. */
  private async connectAtStartup(): Promise<void> {
    const timeoutMs = this.config.redis.startupTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    let lastError = 'unknown error';
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.connect();
        await this.client.ping();
        await checkSelectedDb(this.client, this.config.redis.url, this.displayUrl);
        this.logger.info(
          { event: 'redis.connected', url: this.displayUrl, attempt },
          'redis connected',
        );
        return;
      } catch (error) {
        // ioredis may emit the real cause (ECONNREFUSED, WRONGPASS) after the
        // connect() promise rejects with a bare "Connection is closed".
        if (error instanceof StartupError) {
          this.client.disconnect();
          throw error;
        }
        lastError = redactText(this.lastConnectionError ?? (error as Error).message);
        this.client.disconnect();
        if (isAuthError(lastError)) {
          // A password does not get better by waiting: refuse at once (exit 1).
          throw new StartupError(describeAuthError(this.displayUrl, lastError));
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        break;
      }
      const delay = Math.min(reconnectDelay(attempt), remaining);
      this.logger.warn(
        {
          event: 'redis.connect_failed',
          url: this.displayUrl,
          attempt,
          retryInMs: delay,
          reason: lastError,
        },
        'redis not reachable yet',
      );
      if (await this.shutdownRequestedWithin(delay)) {
        throw new StartupError('startup interrupted by a shutdown request');
      }
    }
    throw new StartupError(
      `Redis at ${this.displayUrl} is unreachable after ${timeoutMs}ms (STARTUP_TIMEOUT_MS): ${lastError}`,
    );
  }
}

/** How long a graceful QUIT may take before the socket is simply dropped. */
const QUIT_TIMEOUT_MS = 1000;

/**
 * QUIT (so Redis sees a clean goodbye) but never wait on it for long: a
 * paused or unreachable Redis must not hold the process past its drain.
 */
async function closeConnection(connection: Redis): Promise<void> {
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
