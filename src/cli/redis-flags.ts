import { CommandRunner, Option } from 'nest-commander';
import type { FlagValues } from '../config';

/**
 * The Redis topology flags of SPEC §2, which every command takes: `run` and
 * `config` (through ConfigFlagsCommand) and the one-shot operator commands
 * (through OneShotCommand). Parsers keep the raw text; loadConfig validates.
 */
export abstract class RedisFlagsCommand extends CommandRunner {
  protected readonly flags: FlagValues = {};

  @Option({ flags: '--redis-url <url>', description: 'redis:// or rediss:// URL (REDIS_URL)' })
  parseRedisUrl(value: string): string {
    return (this.flags['redis-url'] = value);
  }

  @Option({
    flags: '--redis-sentinels <list>',
    description: "Sentinel mode: comma list of the sentinels' host:port (REDIS_SENTINELS)",
  })
  parseRedisSentinels(value: string): string {
    return (this.flags['redis-sentinels'] = value);
  }

  @Option({
    flags: '--redis-sentinel-master <name>',
    description: 'Sentinel mode: the master name the sentinels monitor (REDIS_SENTINEL_MASTER)',
  })
  parseRedisSentinelMaster(value: string): string {
    return (this.flags['redis-sentinel-master'] = value);
  }

  @Option({
    flags: '--redis-cluster-nodes <list>',
    description: "Cluster mode: comma list of seed nodes' host:port (REDIS_CLUSTER_NODES)",
  })
  parseRedisClusterNodes(value: string): string {
    return (this.flags['redis-cluster-nodes'] = value);
  }
}
