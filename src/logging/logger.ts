import pino, { type Logger, type LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';
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
    // One line per event, its fields after the message, so a terminal reads
    // like a log, not a form. An error is a field like any other (its
    // message and type); its stack, many lines, only at debug.
    const stacks = settings.level === 'debug';
    // Required here, not imported: only a terminal in development uses it, and
    // loading it (with its colour and date helpers) cost `run` ~10-35 ms of
    // start-up and ~2 MB (issue 16).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as typeof PinoPretty;
    return pino(
      stacks ? options : { ...options, formatters: { ...options.formatters, log: errorInline } },
      pretty({
        colorize: true,
        sync: true,
        singleLine: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        // Only `err` (turned into `error` above, below debug) gets lines of its own.
        errorLikeObjectKeys: ['err'],
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

/**
 * `err` as one `error: "Name: message"` field: pino-pretty prints an `err`
 * object, stack and all, on lines of its own even in single-line mode.
 */
function errorInline(object: Record<string, unknown>): Record<string, unknown> {
  const { err, ...rest } = object;
  if (!(err instanceof Error)) {
    return object;
  }
  return { ...rest, error: `${err.name}: ${err.message}` };
}
