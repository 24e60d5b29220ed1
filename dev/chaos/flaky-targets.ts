import type { ServerResponse } from 'node:http';
import { LoopbackSink, reply } from '../loopback-sink';
import type { Random } from './random';
import type { WebhookDelivery } from './history';

/**
 * The health target and webhook sink of a chaos run: real loopback HTTP
 * servers that answer slowly, with 5xx or by resetting the connection.
 *
 * The health target's flakiness never changes a deployment's outcome: a path
 * `/h/<id>/ok-<k>` fails its first k probes (k ≤ 2, under every plan's
 * maxAttempts) then answers 200, `/h/<id>/down` never does; answers are at
 * most 300 ms slow, under every plan's timeout. So an outcome can be checked
 * against the plan, and a redelivered probe reaches the same one.
 *
 * The webhook sink fails at random; only the answers it gave with 200 count
 * as deliveries.
 */
export interface FlakyTargets {
  health: LoopbackSink;
  sink: LoopbackSink;
  /** Successful webhook deliveries, in order. */
  deliveries: WebhookDelivery[];
  close(): Promise<void>;
}

function reset(res: ServerResponse): void {
  res.socket?.destroy();
}

/** Answers after `ms`, unless the server has closed by then. */
function later(ms: number, answer: () => void): void {
  setTimeout(answer, ms).unref();
}

export async function startFlakyTargets(random: Random): Promise<FlakyTargets> {
  // Counted here, not from the sink's record: a scan per request is quadratic over a long run.
  const hits = new Map<string, number>();
  const health = await LoopbackSink.start({
    record: false,
    answer: ({ path }, res) => {
      const hit = (hits.get(path) ?? 0) + 1;
      hits.set(path, hit);
      const plan = path.split('/')[3] ?? '';
      const failures = plan === 'down' ? Infinity : Number(plan.replace('ok-', '')) || 0;
      const delay = random.chance(0.2) ? random.int(20, 300) : 0;
      later(delay, () => {
        if (hit > failures) {
          reply(res, 200);
        } else if (random.chance(0.3)) {
          reset(res);
        } else {
          reply(res, random.chance(0.5) ? 503 : 500);
        }
      });
    },
  });

  const deliveries: WebhookDelivery[] = [];
  const sink = await LoopbackSink.start({
    record: false,
    answer: (request, res) => {
      const roll = random.next();
      const delay = random.chance(0.1) ? random.int(100, 600) : 0;
      later(delay, () => {
        if (roll < 0.08) {
          reply(res, 503);
        } else if (roll < 0.11) {
          reset(res);
        } else {
          deliveries.push({
            target: request.path,
            deploymentId: deploymentIdOf(request.body),
            idempotencyKey: String(request.headers['idempotency-key'] ?? ''),
          });
          reply(res, 200);
        }
      });
    },
  });

  return {
    health,
    sink,
    deliveries,
    close: async () => {
      await Promise.all([health.close(), sink.close()]);
    },
  };
}

function deploymentIdOf(body: string): string | null {
  try {
    const payload = JSON.parse(body) as {
      deploymentId?: unknown;
      data?: { deploymentId?: unknown };
    };
    const id = payload.data?.deploymentId ?? payload.deploymentId;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}
