import { Option } from 'nest-commander';
import { WORKER_NAMES } from '../config';
import { RedisFlagsCommand } from './redis-flags';

/**
 * The configuration flags of SPEC §5, shared by `run` and `config` so that
 * `printery-workers config --port 0 …` shows exactly what `run` would use.
 * Parsers keep the raw text: validation happens once, for every value
 * together, in loadConfig.
 */
export abstract class ConfigFlagsCommand extends RedisFlagsCommand {
  @Option({
    flags: '-w, --worker <names>',
    description: `workers to run: all, or a comma list of ${WORKER_NAMES.join(', ')} (WORKER_MODE)`,
  })
  parseWorker(value: string): string {
    return (this.flags.worker = value);
  }

  @Option({
    flags: '--supervised',
    description: 'restart failed workers with backoff instead of exiting (SUPERVISED_MODE)',
  })
  parseSupervised(): boolean {
    return (this.flags.supervised = true);
  }

  @Option({ flags: '--log-level <level>', description: 'debug, info, warn or error (LOG_LEVEL)' })
  parseLogLevel(value: string): string {
    return (this.flags['log-level'] = value);
  }

  @Option({
    flags: '--environment <name>',
    description: 'development, staging or production (ENVIRONMENT)',
  })
  parseEnvironment(value: string): string {
    return (this.flags.environment = value);
  }

  @Option({
    flags: '--max-restarts <n>',
    description: 'consecutive failed restarts before a worker is failed (MAX_RESTART_ATTEMPTS)',
  })
  parseMaxRestarts(value: string): string {
    return (this.flags['max-restarts'] = value);
  }

  @Option({
    flags: '--backoff <duration>',
    description: 'first restart delay, doubling after (RESTART_BACKOFF_MS)',
  })
  parseBackoff(value: string): string {
    return (this.flags.backoff = value);
  }

  @Option({
    flags: '--health-check-interval <duration>',
    description: 'worker health check period (HEALTH_CHECK_INTERVAL_MS)',
  })
  parseHealthCheckInterval(value: string): string {
    return (this.flags['health-check-interval'] = value);
  }

  @Option({
    flags: '--shutdown-timeout <duration>',
    description: 'time in-flight work gets to finish on shutdown (SHUTDOWN_TIMEOUT_MS)',
  })
  parseShutdownTimeout(value: string): string {
    return (this.flags['shutdown-timeout'] = value);
  }

  @Option({
    flags: '--port <port>',
    description: 'HTTP port for /health, /status and /metrics (PORT)',
  })
  parsePort(value: string): string {
    return (this.flags.port = value);
  }
}
