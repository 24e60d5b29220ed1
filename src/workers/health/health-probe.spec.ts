import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import type { HealthCheckSpec } from '../../domain/deployment';
import { createGuardedAgent } from '../../net/guarded-agent';
import { HostAllowList } from '../../net/host-allow-list';
import { probeHealth, type ProbeOptions } from './health-probe';

// Real dependencies: a loopback HTTP server and undici; nothing is faked.
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const caps = { maxAttempts: 10, maxTimeoutMs: 5000, maxIntervalMs: 1000 };

describe('probeHealth', () => {
  const allowList = new HostAllowList(['127.0.0.1', 'localhost']);
  let agent: Agent;
  let server: Server;
  let base: string;
  let hits: number;
  let behaviour: Handler;

  beforeEach(async () => {
    agent = createGuardedAgent(allowList);
    hits = 0;
    ({ server, base } = await listen((req, res) => {
      hits += 1;
      behaviour(req, res);
    }));
  });

  afterEach(async () => {
    await close(server);
    await agent.close();
  });

  const spec = (path: string, over: Partial<HealthCheckSpec> = {}): HealthCheckSpec => ({
    url: `${base}${path}`,
    expectedStatus: 200,
    timeoutMs: 1000,
    intervalMs: 10,
    maxAttempts: 3,
    ...over,
  });
  const options = (over: Partial<ProbeOptions> = {}): ProbeOptions => ({
    dispatcher: agent,
    allowList,
    caps,
    signal: new AbortController().signal,
    ...over,
  });

  it('reports healthy on the first expected answer', async () => {
    behaviour = (_req, res) => res.end('ok');
    const outcome = await probeHealth(spec('/health'), options());
    expect(outcome).toMatchObject({ healthy: true, attempts: 1, lastStatus: 200, lastError: null });
    expect(hits).toBe(1);
  });

  it('gives up after maxAttempts when the service always answers 503', async () => {
    behaviour = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const outcome = await probeHealth(spec('/health', { maxAttempts: 4 }), options());
    expect(outcome).toMatchObject({
      healthy: false,
      attempts: 4,
      lastStatus: 503,
      lastError: 'status 503, expected 200',
    });
    expect(hits).toBe(4);
  });

  it('keeps probing until the service becomes healthy', async () => {
    behaviour = (_req, res) => {
      res.statusCode = hits < 3 ? 503 : 200;
      res.end();
    };
    const outcome = await probeHealth(spec('/health', { maxAttempts: 5 }), options());
    expect(outcome).toMatchObject({ healthy: true, attempts: 3, lastStatus: 200 });
  });

  it('waits intervalMs between attempts', async () => {
    behaviour = (_req, res) => {
      res.statusCode = 500;
      res.end();
    };
    const outcome = await probeHealth(
      spec('/health', { maxAttempts: 3, intervalMs: 150 }),
      options(),
    );
    expect(outcome.durationMs).toBeGreaterThanOrEqual(300);
  });

  it('counts an answer slower than timeoutMs as a failed attempt', async () => {
    behaviour = (_req, res) => {
      setTimeout(() => res.end('late'), 500).unref();
    };
    const outcome = await probeHealth(spec('/slow', { timeoutMs: 100, maxAttempts: 2 }), options());
    expect(outcome).toMatchObject({
      healthy: false,
      attempts: 2,
      lastStatus: null,
      lastError: 'no answer within 100ms',
    });
    expect(outcome.durationMs).toBeLessThan(450);
  });

  it('clamps attempts and timeout to the configured caps', async () => {
    behaviour = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const outcome = await probeHealth(
      spec('/health', { maxAttempts: 50 }),
      options({ caps: { ...caps, maxAttempts: 2 } }),
    );
    expect(outcome.attempts).toBe(2);
  });

  it('stops unhealthy, saying so, when the next attempt would not fit in its budget', async () => {
    behaviour = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    // Each further attempt needs 150ms interval + 200ms timeout; 500ms leaves room for one more.
    const outcome = await probeHealth(
      spec('/health', { maxAttempts: 10, intervalMs: 150, timeoutMs: 200 }),
      options({ budgetMs: 500 }),
    );
    expect(outcome).toMatchObject({
      healthy: false,
      attempts: 2,
      lastStatus: 503,
      lastError:
        'health check budget of 500ms ran out after 2 attempts (last: status 503, expected 200)',
    });
    expect(hits).toBe(2);
    expect(outcome.durationMs).toBeLessThan(500);
  });

  it('cuts an attempt short at the end of its budget', async () => {
    behaviour = (_req, res) => {
      setTimeout(() => res.end('late'), 1000).unref();
    };
    const outcome = await probeHealth(
      spec('/slow', { timeoutMs: 5000, maxAttempts: 1 }),
      options({ budgetMs: 150 }),
    );
    expect(outcome).toMatchObject({ healthy: false, attempts: 1, lastStatus: null });
    expect(outcome.lastError).toMatch(/^no answer within 1[0-5]\dms$/);
    expect(outcome.durationMs).toBeLessThan(600);
  });

  it('does not follow a redirect to another host', async () => {
    const elsewhere = await listen((_req, res) => res.end('reached'));
    let reached = 0;
    elsewhere.server.on('request', () => (reached += 1));
    try {
      behaviour = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.base}/health` });
        res.end();
      };
      const outcome = await probeHealth(spec('/health', { maxAttempts: 1 }), options());
      expect(outcome).toMatchObject({
        healthy: false,
        lastStatus: 302,
        lastError: 'status 302, expected 200 (redirects are not followed)',
      });
      expect(reached).toBe(0);
    } finally {
      await close(elsewhere.server);
    }
  });

  it('refuses the metadata address without sending a request', async () => {
    const outcome = await probeHealth(
      { ...spec('/'), url: 'http://169.254.169.254/latest/meta-data/' },
      options(),
    );
    expect(outcome).toMatchObject({
      healthy: false,
      attempts: 0,
      lastError: 'refused: host 169.254.169.254 is a cloud metadata address',
    });
  });

  it('refuses a permitted name once DNS resolves it to a forbidden address', async () => {
    // With an empty list only public addresses pass; localhost resolves to loopback.
    const open = new HostAllowList([]);
    const openAgent = createGuardedAgent(open);
    try {
      const port = new URL(base).port;
      const outcome = await probeHealth(
        { ...spec('/'), url: `http://localhost:${port}/health` },
        options({ allowList: open, dispatcher: openAgent }),
      );
      expect(outcome.healthy).toBe(false);
      expect(outcome.attempts).toBe(1);
      expect(outcome.lastError).toMatch(
        /^refused: host localhost resolves to .* not a public address$/,
      );
      expect(hits).toBe(0);
    } finally {
      await openAgent.close();
    }
  });

  it('rejects promptly when its signal aborts', async () => {
    behaviour = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop deadline')), 100).unref();
    await expect(
      probeHealth(
        spec('/health', { maxAttempts: 10, intervalMs: 1000 }),
        options({ signal: controller.signal }),
      ),
    ).rejects.toThrow('stop deadline');
  });
});
