import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config';
import { StartupError } from '../errors/startup.error';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { startupAttempt } from '../lifecycle/startup-attempt';
import { isAuthError } from '../redis/connection-checks';
import { reconnectDelay } from '../redis/redis-options';
import { RedisService } from '../redis/redis.service';
import { ensureGroups, isRedisUnreachable, sleep } from './consumer';
import { ConnectionLostError } from './consumer/redis-wait';
import { checkRedisVersion, readDurability } from './redis-checks';
import { StreamTopology } from './topology';

/**
 * Longest one attempt at the checks and the groups may take. A command lost
 * in a Cluster failover can stay unsettled for good (no reply, no error, no
 * timer): start-up then hung, and a SIGTERM could not end it either.
 */
const ATTEMPT_TIMEOUT_MS = 5_000;

/**
 * Startup checks and group creation. Runs in onModuleInit, after
 * RedisService has connected (it is injected, and its module is initialised
 * first), and before the supervisor starts any worker in onApplicationBootstrap.
 */
@Injectable()
export class StreamsStartup implements OnModuleInit {
  constructor(
    private readonly redis: RedisService,
    private readonly topology: StreamTopology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger(StreamsStartup.name) private readonly logger: PinoLogger,
    @Optional() private readonly lifecycle?: ProcessLifecycle,
  ) {}

  /**
   * The checks and the groups, again while Redis drops away under them (a
   * failover or restart right after the connection came up), until
   * STARTUP_TIMEOUT_MS; anything else fails the start at once. A shutdown
   * request ends it at once, as it does RedisService's connect.
   */
  async onModuleInit(): Promise<void> {
    const deadline = Date.now() + this.config.redis.startupTimeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.bounded(this.prepare(), Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
        return;
      } catch (error) {
        const cause = error instanceof StartupError ? error.cause : error;
        const delay = reconnectDelay(attempt);
        if (!isRedisUnreachable(cause) || Date.now() + delay > deadline) {
          throw error;
        }
        this.logger.warn(
          { event: 'streams.startup_retry', attempt, retryInMs: delay, err: cause },
          'redis went away while the consumer groups were being prepared; retrying',
        );
        await this.bounded(sleep(delay), delay + 1000);
      }
    }
  }

  /** `work` as one start-up attempt: a timeout counts as Redis unreachable, so it is retried. */
  private bounded(work: Promise<void>, timeoutMs: number): Promise<void> {
    return startupAttempt(
      work,
      timeoutMs,
      this.lifecycle,
      (ms) => new ConnectionLostError(`no reply within ${ms}ms`),
    );
  }

  private async prepare(): Promise<void> {
    const client = this.redis.client;
    let version: string;
    try {
      version = await checkRedisVersion(client);
      await this.warnOnWeakDurability();
    } catch (error) {
      // An ACL user without INFO: say so in the operator's words, at once.
      const message = (error as Error).message;
      throw isAuthError(message)
        ? new StartupError(this.redis.describeAuthError(message), { cause: error })
        : error;
    }
    // Groups of all four workers, whatever this process runs, so no stream is
    // written before its readers' group exists (SPEC §2).
    const pairs = this.topology.allReads();
    let created;
    try {
      created = await ensureGroups(client, pairs, this.config.streams.groupStartId);
    } catch (error) {
      throw new StartupError(`could not create the consumer groups: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.logger.info(
      {
        event: 'streams.groups_ready',
        redisVersion: version,
        groups: pairs.length,
        created: created.length,
        startId: this.config.streams.groupStartId,
      },
      'consumer groups ready',
    );
  }

  private async warnOnWeakDurability(): Promise<void> {
    const report = await readDurability(this.redis.client);
    if (report.maxmemoryPolicy !== undefined && report.maxmemoryPolicy !== 'noeviction') {
      this.logger.warn(
        { event: 'redis.eviction_enabled', maxmemoryPolicy: report.maxmemoryPolicy },
        'redis may evict stream keys under memory pressure; set maxmemory-policy noeviction',
      );
    }
    const production = this.config.environment !== 'development';
    if (production && !report.aof && report.rdb === false) {
      this.logger.warn(
        { event: 'redis.persistence_off', environment: this.config.environment },
        'redis persistence (AOF and RDB) is off: a redis restart loses every stream',
      );
    }
  }
}
