import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config';
import { StartupError } from '../errors/startup.error';
import { isAuthError } from '../redis/connection-checks';
import { RedisService } from '../redis/redis.service';
import { ensureGroups } from './consumer';
import { checkRedisVersion, readDurability } from './redis-checks';
import { StreamTopology } from './topology';

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
  ) {}

  async onModuleInit(): Promise<void> {
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
