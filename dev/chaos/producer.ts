import type { RedisClient } from '../../src/redis/connection-factory';
import type { PlannedDeployment } from './history';
import type { Random } from './random';

/** A service every planned deployment may depend on; seeded healthy, never redeployed. */
export const BASE_SERVICE = 'base-api';
export const WEBHOOK_TARGETS = ['/hook/own', '/hook/default'];

export interface PlannedRequest {
  planned: PlannedDeployment;
  data: Record<string, unknown>;
}

/**
 * `count` deployments over `services` services, each meant to end one way:
 * most succeed, some fail validation (a version that is not semver), their
 * dependency check (a dependency nobody registered) or their health check
 * (a target that never answers 200). Several deployments per service, so
 * later ones may finish first and the registry has to keep the newest.
 */
export function planDeployments(
  random: Random,
  count: number,
  services: number,
  urls: { health: string; sink: string },
  runId: string,
): PlannedRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const deploymentId = `${runId}-${i}`;
    const service = `svc-${random.int(0, services - 1)}`;
    const expect = random.weighted([
      ['succeeded', 70],
      ['validation', 10],
      ['dependency', 10],
      ['health', 10],
    ] as const);
    const version = `1.${i}.0`;
    const probe =
      expect === 'health'
        ? 'down'
        : `ok-${random.weighted([
            [0, 6],
            [1, 3],
            [2, 1],
          ] as const)}`;
    const data = {
      deploymentId,
      service,
      version: expect === 'validation' ? `v${i}-not-semver` : version,
      environment: 'staging',
      artifact: `registry.example.com/${service}:${version}`,
      dependencies: [
        { service: expect === 'dependency' ? 'ghost-api' : BASE_SERVICE, version: '^1.0.0' },
      ],
      healthCheck: {
        url: `${urls.health}/h/${deploymentId}/${probe}`,
        timeoutMs: 2000,
        intervalMs: 20,
        maxAttempts: probe === 'down' ? 3 : 6,
      },
      notify: [{ type: 'webhook', url: `${urls.sink}${WEBHOOK_TARGETS[0]}` }],
      requestedBy: 'chaos',
    };
    return {
      planned: { deploymentId, service, environment: 'staging', expect, targets: WEBHOOK_TARGETS },
      data,
    };
  });
}

function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Publishes the requests at a steady rate, as an orchestrator would. An
 * XADD that fails (Redis restarting, connection killed) is sent again with
 * the same source and id, and counted: it may have been applied before the
 * error, and then the stream holds the event twice.
 */
export async function publish(
  redis: RedisClient,
  stream: string,
  requests: PlannedRequest[],
  ratePerSecond: number,
  shouldStop: () => boolean,
): Promise<{ retries: number }> {
  const startedAt = Date.now();
  let retries = 0;
  for (let i = 0; i < requests.length && !shouldStop(); i++) {
    const due = startedAt + (i * 1000) / ratePerSecond;
    const wait = due - Date.now();
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
    }
    const { planned, data } = requests[i] as PlannedRequest;
    const fields = [
      ...['specversion', '1.0', 'id', `evt-${planned.deploymentId}`, 'type', 'deployment:started'],
      ...[
        'source',
        'chaos-producer',
        'subject',
        planned.deploymentId,
        'time',
        new Date().toISOString(),
      ],
      ...['datacontenttype', 'application/json', 'data', JSON.stringify(data)],
    ];
    for (let attempt = 0; ; attempt++) {
      try {
        // Longer than any CLIENT PAUSE of the run; a command lost with its connection never settles.
        await settlesWithin(redis.xadd(stream, '*', ...fields), 5000);
        break;
      } catch (error) {
        if (attempt >= 100 || shouldStop()) {
          throw error;
        }
        retries += 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  return { retries };
}
