import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a sink received, body included. */
export interface SinkRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body's bytes, for binary payloads (OTLP protobuf). */
  raw: Buffer;
}

/**
 * How a sink answers. It sees the request (already recorded) and everything
 * received so far, so "fail the first two calls of /flaky" is one line.
 */
export type SinkAnswer = (
  request: SinkRequest,
  res: ServerResponse,
  received: readonly SinkRequest[],
) => void;

/** The default answer: `/down…` 503, anything else 200 with `{}`. */
export const upUnlessDown: SinkAnswer = (request, res) => {
  reply(res, request.path.startsWith('/down') ? 503 : 200);
};

/** Ends `res` with `status`, a short body for success, and any headers (Location, Retry-After). */
export function reply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(status < 300 ? '{}' : '');
}

/** How many requests for `path` the sink has received. */
export function hitsOf(received: readonly SinkRequest[], path: string): number {
  return received.filter((request) => request.path === path).length;
}

export interface LoopbackSinkOptions {
  /** A loopback address: 127.0.0.1 (default), another 127/8 address, or ::1. */
  host?: string;
  answer?: SinkAnswer;
  /**
   * Keep every request in `requests` (default true). A long soak turns it
   * off and keeps what it needs itself; `received` is then empty.
   */
  record?: boolean;
}

/**
 * A real HTTP server on a loopback address and a kernel-chosen port, for the
 * service's health probes and webhooks in tests, the bench and the demo. It
 * records every request with its body and answers through `answer`.
 */
export class LoopbackSink {
  readonly requests: SinkRequest[] = [];
  private readonly server: Server;
  private answer: SinkAnswer;
  port = 0;

  private constructor(
    readonly host: string,
    answer: SinkAnswer,
    record: boolean,
  ) {
    this.answer = answer;
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const request = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: raw.toString(),
          raw,
        };
        if (record) {
          this.requests.push(request);
        }
        this.answer(request, res, this.requests);
      });
    });
  }

  static async start(options: LoopbackSinkOptions = {}): Promise<LoopbackSink> {
    const sink = new LoopbackSink(
      options.host ?? '127.0.0.1',
      options.answer ?? upUnlessDown,
      options.record ?? true,
    );
    await new Promise<void>((resolve, reject) => {
      sink.server.once('error', reject);
      sink.server.listen(0, sink.host, resolve);
    });
    sink.port = (sink.server.address() as AddressInfo).port;
    return sink;
  }

  /** `http://host:port`, with IPv6 hosts bracketed. */
  get base(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** Changes how later requests are answered (e.g. a target that goes down mid-test). */
  answerWith(answer: SinkAnswer): void {
    this.answer = answer;
  }

  /** Requests received for `path`. */
  received(path: string): SinkRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  /** Stops listening and drops kept-alive connections, so nothing holds the test's exit. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
