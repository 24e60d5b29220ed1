import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import { createGuardedAgent } from '../../net/guarded-agent';
import { HostAllowList } from '../../net/host-allow-list';
import {
  classifyStatus,
  deliver,
  type DeliveryOptions,
  parseRetryAfter,
  retryDelayMs,
} from './delivery';

describe('classifyStatus', () => {
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [500, 'retry'],
    [503, 'retry'],
    [429, 'retry'],
    [400, 'permanent'],
    [404, 'permanent'],
    [410, 'permanent'],
    [301, 'permanent'],
  ])('treats %i as %s', (status, verdict) => {
    expect(classifyStatus(status)).toBe(verdict);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  const policy = { maxAttempts: 5, backoffMs: 100, maxDelayMs: 1000 };

  it('doubles the backoff with jitter between half and all of it', () => {
    expect(retryDelayMs(1, policy, undefined, () => 0)).toBe(50);
    expect(retryDelayMs(1, policy, undefined, () => 1)).toBe(100);
    expect(retryDelayMs(3, policy, undefined, () => 1)).toBe(400);
    expect(retryDelayMs(10, policy, undefined, () => 1)).toBe(1000);
  });

  it('honours Retry-After, capped', () => {
    expect(retryDelayMs(1, policy, 700)).toBe(700);
    expect(retryDelayMs(1, policy, 60_000)).toBe(1000);
  });
});

describe('deliver', () => {
  const allowList = new HostAllowList(['127.0.0.1']);
  let agent: Agent;
  let server: Server;
  let url: string;
  let received: Array<{ headers: IncomingMessage['headers']; body: string }>;
  let answer: (n: number, res: ServerResponse) => void;

  beforeEach(async () => {
    agent = createGuardedAgent(allowList);
    received = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        answer(received.length, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-path`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await agent.close();
  });

  const options = (over: Partial<DeliveryOptions> = {}): DeliveryOptions => ({
    dispatcher: agent,
    allowList,
    policy: { maxAttempts: 4, backoffMs: 10, maxDelayMs: 500 },
    requestTimeoutMs: 1000,
    signal: new AbortController().signal,
    ...over,
  });
  const request = () => ({
    url,
    body: '{"hello":"world"}',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'evt-1:abc' },
  });
  const status =
    (code: number, headers: Record<string, string> = {}) =>
    (res: ServerResponse) => {
      res.writeHead(code, headers);
      res.end();
    };

  it('retries 500s and delivers the same body and key on the third attempt', async () => {
    answer = (n, res) => status(n <= 2 ? 500 : 200)(res);
    const outcome = await deliver(request(), options());
    expect(outcome).toEqual({ status: 'delivered', attempts: 3, lastStatus: 200, error: null });
    expect(new Set(received.map((r) => r.body))).toEqual(new Set(['{"hello":"world"}']));
    expect(new Set(received.map((r) => r.headers['idempotency-key']))).toEqual(
      new Set(['evt-1:abc']),
    );
  });

  it('gives up at once on a 4xx', async () => {
    answer = (_n, res) => status(400)(res);
    const outcome = await deliver(request(), options());
    expect(outcome).toEqual({
      status: 'failed',
      attempts: 1,
      lastStatus: 400,
      error: 'status 400',
    });
    expect(received).toHaveLength(1);
  });

  it('waits as long as Retry-After asks on a 429', async () => {
    answer = (n, res) => status(n === 1 ? 429 : 200, n === 1 ? { 'retry-after': '1' } : {})(res);
    const started = Date.now();
    const outcome = await deliver(
      request(),
      options({ policy: { maxAttempts: 3, backoffMs: 10, maxDelayMs: 5000 } }),
    );
    expect(outcome.status).toBe('delivered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('stops after maxAttempts of server errors', async () => {
    answer = (_n, res) => status(503)(res);
    const outcome = await deliver(
      request(),
      options({ policy: { maxAttempts: 3, backoffMs: 5, maxDelayMs: 50 } }),
    );
    expect(outcome).toEqual({
      status: 'failed',
      attempts: 3,
      lastStatus: 503,
      error: 'status 503',
    });
  });

  it('reports failed, with its attempts, when a retry would not finish before the deadline', async () => {
    answer = (_n, res) => status(503)(res);
    const started = Date.now();
    // A retry needs ~100ms of backoff plus a 300ms request timeout; 250ms leaves room for none.
    const outcome = await deliver(
      request(),
      options({
        policy: { maxAttempts: 5, backoffMs: 100, maxDelayMs: 500 },
        requestTimeoutMs: 300,
        deadline: started + 250,
      }),
    );
    expect(outcome).toEqual({
      status: 'failed',
      attempts: 1,
      lastStatus: 503,
      error: 'delivery budget ran out after 1 attempt (last: status 503)',
    });
    expect(received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(250);
  });

  it('cuts a slow request at the deadline', async () => {
    answer = (_n, res) => setTimeout(() => status(200)(res), 1000).unref();
    const started = Date.now();
    const outcome = await deliver(
      request(),
      options({ requestTimeoutMs: 5000, deadline: started + 150 }),
    );
    expect(outcome).toMatchObject({ status: 'failed', attempts: 1, lastStatus: null });
    expect(outcome.error).toMatch(
      /^delivery budget ran out after 1 attempt \(last: no answer within 1[0-5]\dms\)$/,
    );
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('retries a network error', async () => {
    const closed = `http://127.0.0.1:1/hook`;
    const outcome = await deliver(
      { ...request(), url: closed },
      options({ policy: { maxAttempts: 2, backoffMs: 5, maxDelayMs: 50 } }),
    );
    expect(outcome).toMatchObject({ status: 'failed', attempts: 2, lastStatus: null });
    expect(outcome.error).toContain('ECONNREFUSED');
  });

  it('refuses a host outside the allow-list without a request', async () => {
    const outcome = await deliver(
      { ...request(), url: 'http://169.254.169.254/latest' },
      options(),
    );
    expect(outcome).toEqual({
      status: 'refused',
      attempts: 0,
      lastStatus: null,
      error: 'host 169.254.169.254 is a cloud metadata address',
    });
  });

  it('does not follow a redirect', async () => {
    answer = (_n, res) => status(307, { location: 'http://169.254.169.254/' })(res);
    const outcome = await deliver(request(), options());
    expect(outcome).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 307 });
  });
});
