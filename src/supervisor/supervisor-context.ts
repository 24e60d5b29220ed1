import type { PinoLogger } from 'nestjs-pino';
import type { AppConfig } from '../config';
import type { Clock } from './clock';
import type { RestartPolicy } from './restart-policy';
import type { SupervisorMetrics } from './supervisor-metrics';

/** What every per-worker part (slot, recovery) needs from the supervisor around it. */
export interface SupervisorContext {
  readonly clock: Clock;
  readonly logger: PinoLogger;
  readonly metrics: SupervisorMetrics;
  readonly policy: RestartPolicy;
  readonly settings: Pick<
    AppConfig['supervisor'],
    'startTimeoutMs' | 'shutdownTimeoutMs' | 'stablePeriodMs'
  >;
  /** Whether the service's Redis connection is ready now (a start's timeout pauses while not). */
  redisReady(): boolean;
  /** How long, in all, a start may wait for an unreachable Redis (STARTUP_TIMEOUT_MS). */
  readonly startRedisWaitMs: number;
  /** True once shutdown began: the shutdown sequence owns every worker from then on. */
  stopping(): boolean;
  /** Ends the process with `exitCode` (a failed worker standalone, or the supervisor's own bug). */
  requestShutdown(reason: string, exitCode: number): void;
}
