import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import type { NotifyTargetResult } from '../../domain/deployment';
import { createGuardedAgent } from '../../net/guarded-agent';
import { HostAllowList } from '../../net/host-allow-list';
import type { DeliveryLedger } from './delivery-ledger';
import type { Notification } from './notification';
import { targetId } from './payloads';
import { sendNotification } from './send-notification';

// A loopback sink and undici are real; the ledger is an in-memory stand-in
// whose write for one target fails, as a Redis error would.
class FlakyLedger {
  readonly writes: string[] = [];
  constructor(private readonly failFor: string) {}
  recorded(): Promise<Map<string, NotifyTargetResult>> {
    return Promise.resolve(new Map<string, NotifyTargetResult>());
  }
  record(_event: string, target: string): Promise<boolean> {
    if (target === this.failFor) {
      return Promise.reject(new Error('ledger write failed'));
    }
    this.writes.push(target);
    return Promise.resolve(this.writes.length === 1);
  }
  countOnce(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

describe('sendNotification', () => {
  const allowList = new HostAllowList(['127.0.0.1']);
  let agent: Agent;
  let sink: Server;
  let base: string;

  beforeEach(async () => {
    agent = createGuardedAgent(allowList);
    sink = createServer((req, res) => {
      req.resume();
      // The slow target answers well after the fast one's ledger write has failed.
      const delay = req.url === '/slow' ? 300 : 0;
      setTimeout(() => res.end(), delay).unref();
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    sink.closeAllConnections();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    await agent.close();
  });

  const notification: Omit<Notification, 'targets'> = {
    terminalEventId: 'evt-1',
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
  };

  it('waits for every target before failing with the first ledger error', async () => {
    const fast = { type: 'webhook' as const, url: `${base}/fast` };
    const slow = { type: 'webhook' as const, url: `${base}/slow` };
    const ledger = new FlakyLedger(targetId(fast));
    let counted = 0;
    await expect(
      sendNotification(
        {
          ...notification,
          targets: [fast, slow],
        },
        {
          dispatcher: agent,
          allowList,
          policy: { maxAttempts: 1, backoffMs: 5, maxDelayMs: 20 },
          requestTimeoutMs: 2000,
          webhookSecret: undefined,
          defaultWebhookUrls: [],
          ledger: ledger as unknown as DeliveryLedger,
          signal: new AbortController().signal,
          onCounted: () => (counted += 1),
        },
      ),
    ).rejects.toThrow('ledger write failed');
    // The slow target was delivered and recorded before the handler gave up.
    expect(ledger.writes).toEqual([targetId(slow)]);
    // Its record marked the event counted: this handling counts it, its retry will not.
    expect(counted).toBe(1);
  });
});
