import {
  type DynamicModule,
  Inject,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { type Options, pinoHttp } from 'pino-http';

const HTTP_LOG_OPTIONS = 'HTTP_LOG_OPTIONS';
const QUIET_PATHS = new Set(['/health', '/health/live', '/health/ready', '/metrics']);

/**
 * One log line per HTTP request (pino-http), written by pino-http's own
 * middleware rather than nestjs-pino's: nestjs-pino runs each request in an
 * AsyncLocalStorage, and the first request (a readiness probe) turns on
 * Node's promise hooks for the whole process, for good — a cost on every
 * promise of the workers (node:internal/async_hooks was 2% of a burst's
 * CPU in `npm run bench:profile`) for a request-scoped logger nothing here
 * uses. The lines keep their fields.
 */
@Module({})
export class HttpLogModule implements NestModule {
  constructor(@Inject(HTTP_LOG_OPTIONS) private readonly options: Options) {}

  static forRoot(logger: Logger): DynamicModule {
    return {
      module: HttpLogModule,
      providers: [{ provide: HTTP_LOG_OPTIONS, useValue: httpLogOptions(logger) }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(pinoHttp(this.options)).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}

function httpLogOptions(logger: Logger): Options {
  return {
    logger,
    // Probes and scrapes every few seconds would drown the log.
    autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? '') },
    // What an operator reads in a request line: method, path, status,
    // time. Not the headers (noise, and a place secrets travel), and
    // not pino's res serializer, whose statusCode reads null once the
    // logger's redaction has copied the response object.
    quietReqLogger: true,
    quietResLogger: true,
    customSuccessObject: (req, res, value: { responseTime?: number }) => ({
      event: 'http.request',
      method: req.method,
      url: req.url,
      statusCode: res.statusCode,
      responseTime: value.responseTime,
    }),
    customErrorObject: (req, res, err, value: { responseTime?: number }) => ({
      event: 'http.request',
      method: req.method,
      url: req.url,
      statusCode: res.statusCode,
      responseTime: value.responseTime,
      err,
    }),
  };
}
