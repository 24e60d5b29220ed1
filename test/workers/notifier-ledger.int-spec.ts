import type Redis from 'ioredis';
import type { Agent } from 'undici';
import { StreamTopology } from '../../src/streams/topology';
import { DeliveryLedger } from '../../src/workers/notifier/delivery-ledger';
import type { Notification } from '../../src/workers/notifier/notification';
import { sendNotification } from '../../src/workers/notifier/send-notification';
import { createGuardedAgent } from '../../src/net/guarded-agent';
import { HostAllowList } from '../../src/net/host-allow-list';
import { LoopbackSink, type SinkRequest } from '../../dev/loopback-sink';
import { RedisServer } from '../../dev/redis-server';

// Real: redis-server (the ledger), a loopback webhook sink, undici. The
// redelivery is simulated by handling the same terminal event twice, which
// is what the stream runtime does after a crash between send and ack.

describe('Notifier delivery ledger', () => {
  const topology = new StreamTopology('int-ledger', 'int-ledger:registry');
  const allowList = new HostAllowList(['127.0.0.1']);
  let redis: RedisServer;
  let client: Redis;
  let agent: Agent;
  let sink: LoopbackSink;
  let base: string;
  let received: SinkRequest[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
  });

  afterAll(async () => {
    await client.quit();
    await redis.dispose();
  });

  beforeEach(async () => {
    agent = createGuardedAgent(allowList);
    sink = await LoopbackSink.start();
    received = sink.requests;
    base = sink.base;
  });

  afterEach(async () => {
    await sink.close();
    await agent.close();
    await client.flushall();
  });

  const notification = (targets: Notification['targets']): Notification => ({
    terminalEventId: 'evt-redelivered',
    terminalEventType: 'health:checked',
    occurredAt: null,
    deploymentId: 'dep-1',
    outcome: 'succeeded',
    failedStage: null,
    reason: null,
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    details: {},
    targets,
  });

  const ledger = () => new DeliveryLedger(client, (id) => topology.deliveryKey(id), 60_000);

  const send = (n: Notification, settled: Array<[string, boolean]> = [], counted = { times: 0 }) =>
    sendNotification(n, {
      dispatcher: agent,
      allowList,
      policy: { maxAttempts: 2, backoffMs: 5, maxDelayMs: 20 },
      requestTimeoutMs: 1000,
      webhookSecret: 'ledger-secret',
      defaultWebhookUrls: [`${base}/default`],
      ledger: ledger(),
      signal: new AbortController().signal,
      onTargetSettled: (result, previously) => settled.push([result.status, previously]),
      onCounted: () => (counted.times += 1),
    });

  it('does not send again to targets already done when the event is redelivered', async () => {
    const n = notification([
      { type: 'webhook', url: `${base}/team` },
      { type: 'slack', url: `${base}/services/T0/B0/x` },
      { type: 'webhook', url: `${base}/down` },
    ]);
    const first = await send(n);
    const sentFirst = received.length;
    const second = await send(n);

    expect(second).toEqual(first);
    expect(received).toHaveLength(sentFirst);
    // /down was tried maxAttempts times on the first handling only.
    expect(received.map((r) => r.path).sort()).toEqual(
      ['/default', '/down', '/down', '/services/T0/B0/x', '/team'].sort(),
    );
    expect(first.targets.map((t) => [t.type, t.status, t.attempts])).toEqual([
      ['webhook', 'delivered', 1],
      ['slack', 'delivered', 1],
      ['webhook', 'failed', 2],
      ['webhook', 'delivered', 1],
    ]);
  });

  it('counts a terminal event once however often it is handled, and reports targets settled before', async () => {
    const n = notification([{ type: 'webhook', url: `${base}/down` }]);
    const settled: Array<[string, boolean]> = [];
    const counted = { times: 0 };
    const first = await send(n, settled, counted);
    expect(counted.times).toBe(1);
    const again = await send(n, settled, counted);
    expect(counted.times).toBe(1);
    expect(await ledger().countOnce(n.terminalEventId)).toBe(false);

    // The count's mark is not a target: the redelivery sees the same two results.
    expect(again).toEqual(first);
    // Targets settle in parallel, in any order.
    expect(settled.map((entry) => entry.join(' ')).sort()).toEqual([
      'delivered false',
      'delivered true',
      'failed false',
      'failed true',
    ]);
  });

  it('redacts credential-like target paths in the result and keeps plain ones', async () => {
    const result = await send(
      notification([
        { type: 'slack', url: `${base}/services/T0/B0/x` },
        { type: 'webhook', url: `${base}/team` },
      ]),
    );
    expect(result.targets.map((t) => t.target)).toEqual([
      `${base}/services/[REDACTED]`,
      `${base}/team`,
      `${base}/default`,
    ]);
  });

  it('forgets delivered targets after the dedupe TTL', async () => {
    await send(notification([]));
    const ttl = await client.pttl(topology.deliveryKey('evt-redelivered'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
