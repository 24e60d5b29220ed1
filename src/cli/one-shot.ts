import { CommandRunner, Option } from 'nest-commander';
import { type AppConfig, loadConfig } from '../config';
import { ConfigError, StartupError } from '../errors';
import { redactText } from '../logging/redact';
import { describeRedisTopology, redisTopology } from '../config/redis-topology';
import { checkSelectedDb, describeAuthError, isAuthError } from '../redis/connection-checks';
import { createRedisClient, type RedisClient } from '../redis/connection-factory';
import { StreamTopology } from '../streams/topology';
import { EXIT } from './exit-codes';
import { RedisFlagsCommand } from './redis-flags';
import { reportError } from './report-error';

/** Options as nest-commander hands them to `run`, keyed by attribute name. */
export type CommandOptions = Record<string, unknown>;

/**
 * Base of the one-shot operator commands (`status`, `publish`, `dlq …`,
 * `registry …`). They read configuration exactly as `run` does, so
 * REDIS_URL, STREAM_PREFIX and the config files apply, but never boot the
 * HTTP app or the workers. `execute` returns the exit code; anything it
 * throws goes through reportError (ConfigError → 2, anything else → 1).
 */
export abstract class OneShotCommand extends RedisFlagsCommand {
  /**
   * The settings (paths or prefixes) this command uses: a problem in any
   * other setting does not refuse it (SPEC §5). `publish` adds the
   * Validator's settings; `run` and `config` check everything.
   */
  protected readonly uses: readonly string[] = ['redis', 'streams'];

  async run(args: string[], options?: CommandOptions): Promise<void> {
    try {
      process.exitCode = await this.execute(args, options ?? {});
    } catch (error) {
      process.exitCode = reportError(error);
    }
  }

  protected abstract execute(args: string[], options: CommandOptions): Promise<number>;

  protected loadConfig(): AppConfig {
    return loadConfig({ flags: this.flags, uses: this.uses });
  }
}

/**
 * A one-shot command whose output is a table in a terminal and JSON when
 * piped or asked for with --json.
 */
export abstract class TabularCommand extends OneShotCommand {
  @Option({
    flags: '--json',
    description: 'print JSON (the default when stdout is not a terminal)',
  })
  parseJson(): boolean {
    return true;
  }
}

/** A usage mistake: printed one line per problem, exit 2. */
export function usageError(...problems: string[]): ConfigError {
  return new ConfigError(problems);
}

export function topologyOf(config: AppConfig): StreamTopology {
  return new StreamTopology(config.streams.prefix, config.streams.registryPrefix);
}

/**
 * One connection for a one-shot command: connects once (no reconnect loop,
 * an operator wants an answer, not a hang), and is always closed.
 *
 * @throws StartupError when Redis does not answer, refuses the credentials or
 * has no such db; the message carries no password.
 */
export async function withRedis<T>(
  config: AppConfig,
  name: string,
  use: (redis: RedisClient) => Promise<T>,
): Promise<T> {
  const redis = createRedisClient(config.redis, {
    connectionName: `printery:cli:${name}`,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
  });
  // Failures surface through connect() and command rejections; the event
  // would otherwise print an unhandled-error warning with the raw URL.
  // The event also carries the real cause (ECONNREFUSED, WRONGPASS) where
  // connect() itself rejects with a bare "Connection is closed".
  let cause: Error | undefined;
  const remember = (error: Error): void => {
    cause = error;
  };
  redis.on('error', remember);
  redis.on('node error', remember);
  const topology = redisTopology(config.redis);
  const shownUrl = redactText(config.redis.url);
  const shown = describeRedisTopology(topology, shownUrl);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const reason = redactText((cause ?? (error as Error)).message);
    throw new StartupError(
      isAuthError(reason)
        ? topology.kind === 'standalone'
          ? describeAuthError(shownUrl, reason)
          : describeAuthError(shown, reason, false)
        : `${shown} is unreachable: ${reason}`,
    );
  }
  try {
    await checkSelectedDb(redis, config.redis, shownUrl);
    return await use(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** Reads all of stdin (for `publish -`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A Redis stream entry id (`1700000000000-0`, or just the milliseconds). */
export function isStreamId(value: string): boolean {
  return /^\d+(-\d+)?$/.test(value);
}

/** Milliseconds encoded in a stream entry id. */
export function streamIdTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** Flat [field, value, …] reply of XRANGE/XREAD into an object. */
export function fieldsToObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out[flat[i] as string] = flat[i + 1] as string;
  }
  return out;
}

/**
 * A command that only groups subcommands (`dlq`, `registry`). Called bare or
 * with an unknown subcommand it shows its help on stderr and exits 2.
 */
export abstract class CommandGroup extends CommandRunner {
  run(args: string[]): Promise<void> {
    if (args.length > 0) {
      process.stderr.write(
        `printery-workers: unknown ${this.command.name()} command "${args[0]}"\n`,
      );
    }
    this.command.outputHelp({ error: true });
    process.exitCode = EXIT.invalidConfig;
    return Promise.resolve();
  }
}

/** A string-valued option, or undefined when absent (or given without a value). */
export function stringOption(options: CommandOptions, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}
