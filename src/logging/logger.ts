import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { redactDeep, redactText } from './redact';

export interface LoggerSettings {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** The service's ENVIRONMENT; `development` on a terminal logs human-readable lines. */
  environment: string;
  /** Defaults to stdout; tests pass a stream. */
  destination?: NodeJS.WritableStream;
}

/** Object keys pino blanks out before serialising, wherever they sit. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'redisUrl',
  '*.redisUrl',
];

/**
 * The one pino instance of a process: JSON lines by default, human-readable
 * in development on a terminal. Every argument is scrubbed of secrets, so an
 * ioredis error carrying a credentialed URL cannot leak through `err`.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'printery-workers', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        const clean = args.map((arg: unknown) =>
          typeof arg === 'string' ? redactText(arg) : redactDeep(arg),
        );
        method.apply(this, clean as Parameters<typeof method>);
      },
    },
  };
  const destination = settings.destination ?? process.stdout;
  const isTerminal = (destination as { isTTY?: boolean }).isTTY === true;
  if (settings.environment === 'development' && isTerminal) {
    // Synchronous pretty stream, not a worker-thread transport: lines written
    // just before exit must not be lost.
    return pino(
      options,
      pretty({
        colorize: true,
        sync: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
      }),
    );
  }
  return pino(
    options,
    settings.destination
      ? (settings.destination as pino.DestinationStream)
      : pino.destination({ dest: 1, sync: true }),
  );
}
