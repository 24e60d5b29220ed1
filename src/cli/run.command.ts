import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getToken } from '@willsoto/nestjs-prometheus';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { Command } from 'nest-commander';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { AppModule } from '../app/app.module';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { type AppConfig, loadConfig } from '../config';
import { createLogger } from '../logging/logger';
import { QuietNestLogger } from '../logging/quiet-nest-logger';
import { METRIC } from '../metrics/metric-names';
import { maybeStartEmbeddedRedis } from '../redis/embedded-redis';
import { ConfigFlagsCommand } from './config-flags';
import { EXIT } from './exit-codes';
import { reportError } from './report-error';

@Command({
  name: 'run',
  description: 'run the selected workers until SIGTERM or SIGINT (the default command)',
  options: { isDefault: true },
})
export class RunCommand extends ConfigFlagsCommand {
  async run(): Promise<void> {
    let config: AppConfig;
    try {
      config = loadConfig({ flags: this.flags });
    } catch (error) {
      process.exitCode = reportError(error);
      return;
    }
    const logger = createLogger({ level: config.logLevel, environment: config.environment });
    const embedded = await maybeStartEmbeddedRedis(config, this.flags, process.env, logger);
    if (embedded) {
      config = { ...config, redis: { ...config.redis, url: embedded.url } };
    }
    try {
      process.exitCode = await serve(config, logger);
    } finally {
      if (embedded) {
        await embedded.stop();
        logger.info(
          { event: 'redis.embedded_stopped', redisPid: embedded.pid },
          'throwaway redis-server stopped',
        );
      }
    }
  }
}

/**
 * Boots the HTTP app and the workers, then waits for a shutdown request
 * (signal, or a failed worker in standalone mode) and performs it.
 *
 * Nest's enableShutdownHooks() is not used: after closing it re-raises the
 * signal, which would end the process with 143 instead of the 0 a clean stop
 * owes the process manager, and it has no "second SIGINT" escape hatch.
 */
export async function serve(config: AppConfig, logger: Logger): Promise<number> {
  const startedAt = performance.now();
  let app: NestExpressApplication | undefined;
  let lifecycle: ProcessLifecycle | undefined;
  const early: { signal?: NodeJS.Signals } = {};

  const onSignal = (signal: NodeJS.Signals): void => {
    if (lifecycle?.shuttingDown || early.signal) {
      if (signal === 'SIGINT') {
        logger.warn({ event: 'shutdown.forced', signal }, 'second SIGINT: exiting now');
        process.exit(EXIT.forcedInterrupt);
      }
      logger.info({ event: 'shutdown.already_running', signal }, 'shutdown already in progress');
      return;
    }
    logger.info({ event: 'shutdown.signal', signal }, 'signal received, draining');
    if (lifecycle) {
      lifecycle.requestShutdown(`signal ${signal}`, EXIT.ok);
    } else {
      // Still booting (e.g. retrying Redis for up to STARTUP_TIMEOUT_MS): no
      // worker has started, so there is nothing to drain and no reason to wait.
      early.signal = signal;
      logger.info(
        { event: 'shutdown.completed', exitCode: EXIT.ok, durationMs: 0 },
        'stopped before start',
      );
      process.exit(EXIT.ok);
    }
  };
  const onRejection = (reason: unknown): void => {
    logger.error(
      { event: 'process.unhandled_rejection', err: reason },
      'unhandled promise rejection',
    );
    try {
      app
        ?.get<Counter>(getToken(METRIC.workerErrors))
        .inc({ worker: 'process', kind: 'unhandled_rejection' });
    } catch {
      // Metrics not up yet; the log line stands.
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onRejection);

  try {
    logger.info(
      {
        event: 'service.starting',
        environment: config.environment,
        workers: config.supervisor.workers,
        supervised: config.supervisor.supervised,
      },
      'printery-workers starting',
    );
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
      bufferLogs: true,
      abortOnError: false,
    });
    app.useLogger(new QuietNestLogger(app.get(NestPinoLogger)));
    const control = app.get(ProcessLifecycle);
    lifecycle = control;
    if (early.signal) {
      control.requestShutdown(`signal ${early.signal}`, EXIT.ok);
    }
    await app.listen(config.port);
    logger.info(
      {
        event: 'service.listening',
        port: config.port,
        startupMs: Math.round(performance.now() - startedAt),
      },
      'http endpoints listening',
    );

    const request = await control.requested;
    const drainStarted = performance.now();
    logger.info(
      {
        event: 'shutdown.started',
        reason: request.reason,
        timeoutMs: config.supervisor.shutdownTimeoutMs,
      },
      'shutting down',
    );
    if (!(await closeWithin(app, config.supervisor.shutdownTimeoutMs + CLOSE_GRACE_MS))) {
      logger.error(
        {
          event: 'shutdown.timeout',
          timeoutMs: config.supervisor.shutdownTimeoutMs + CLOSE_GRACE_MS,
        },
        'shutdown did not finish in time; exiting anyway',
      );
      return EXIT.runtimeFailure;
    }
    logger.info(
      {
        event: 'shutdown.completed',
        exitCode: request.exitCode,
        durationMs: Math.round(performance.now() - drainStarted),
      },
      'shutdown complete',
    );
    return request.exitCode;
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (lifecycle?.shuttingDown) {
      // A signal during start-up (e.g. while Redis is still being retried)
      // interrupts the start: that is a requested stop, not a failure.
      const request = await lifecycle.requested;
      logger.info(
        { event: 'shutdown.completed', reason: request.reason, exitCode: request.exitCode },
        'stopped before start',
      );
      return request.exitCode;
    }
    logger.error({ event: 'service.failed', err: error }, 'service failed');
    return reportError(error);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

/** Beyond SHUTDOWN_TIMEOUT_MS, time left for closing connections and the HTTP server. */
const CLOSE_GRACE_MS = 5000;

/**
 * app.close() with a hard bound; false when it overran. The supervisor
 * already bounds the drain by SHUTDOWN_TIMEOUT_MS; this guards the rest (a
 * QUIT to a paused Redis, a stuck socket) so a shutdown never hangs the process.
 */
async function closeWithin(app: NestExpressApplication, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([app.close().then(() => true), overran]);
  } finally {
    clearTimeout(timer);
  }
}
