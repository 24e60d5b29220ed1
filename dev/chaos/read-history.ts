import type { RedisClient } from '../../src/redis/connection-factory';
import { parseEnvelope } from '../../src/streams/envelope';
import { decodeDeadLetter } from '../../src/streams/dead-letter';
import { EVENT_TYPES, type StreamTopology } from '../../src/streams/topology';
import { WORKER_NAMES } from '../../src/config/worker-names';
import type { GroupState, History, RegistryValue, StageEvent, WebhookDelivery } from './history';

/** Every entry of a stream, in pages. */
async function readAll(redis: RedisClient, stream: string): Promise<Array<[string, string[]]>> {
  const out: Array<[string, string[]]> = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(stream, start, '+', 'COUNT', 2000);
    out.push(...page);
    if (page.length < 2000) {
      return out;
    }
    start = `(${(page[page.length - 1] as [string, string[]])[0]}`;
  }
}

async function readEvents(redis: RedisClient, stream: string): Promise<StageEvent[]> {
  return (await readAll(redis, stream)).map(([entryId, fields]) => {
    const envelope = parseEnvelope(fields, Number.MAX_SAFE_INTEGER);
    const data = envelope.data !== null && typeof envelope.data === 'object' ? envelope.data : {};
    return {
      entryId,
      id: envelope.id,
      ...(envelope.causationid !== undefined ? { causationid: envelope.causationid } : {}),
      ...(envelope.source !== undefined ? { source: envelope.source } : {}),
      data: data as Record<string, unknown>,
    };
  });
}

/**
 * Entries past the group's last-delivered-id, counted from the stream: XINFO's
 * `lag` comes from a counter that Redis 7.0 does not keep in step on a
 * replica (redis/redis#12898), so after a failover it reports entries
 * read long ago as unread.
 */
async function undelivered(redis: RedisClient, stream: string, lastDelivered: string) {
  const after = await redis.xrange(stream, `(${lastDelivered}`, '+', 'COUNT', 100_000);
  return after.length;
}

/** Pending and lag of every group the service reads with (XINFO GROUPS, Redis ≥ 7 for lag). */
async function readGroups(redis: RedisClient, topology: StreamTopology): Promise<GroupState[]> {
  const out: GroupState[] = [];
  const streams = new Set(
    WORKER_NAMES.flatMap((worker) => topology.readsOf(worker).map((r) => r.stream)),
  );
  for (const stream of streams) {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    for (const flat of groups) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        info.set(String(flat[i]), flat[i + 1]);
      }
      out.push({
        stream,
        group: String(info.get('name')),
        pending: Number(info.get('pending')),
        lag: await undelivered(redis, stream, String(info.get('last-delivered-id'))),
      });
    }
  }
  return out;
}

/** The history a chaos run left in Redis, plus the sink's record of deliveries. */
export async function readHistory(
  redis: RedisClient,
  topology: StreamTopology,
  environments: string[],
  webhooks: WebhookDelivery[],
): Promise<History> {
  const events = (type: string) => readEvents(redis, topology.stream(type));
  const registry: History['registry'] = {};
  for (const environment of environments) {
    const hash = await redis.hgetall(topology.registryKey(environment));
    registry[environment] = {};
    for (const [service, raw] of Object.entries(hash)) {
      try {
        const value = JSON.parse(raw) as Partial<RegistryValue>;
        registry[environment][service] = {
          version: String(value.version),
          deploymentId: value.deploymentId ?? null,
          startedId: value.startedId ?? null,
        };
      } catch {
        registry[environment][service] = { version: '?', deploymentId: null, startedId: null };
      }
    }
  }
  return {
    started: await events(EVENT_TYPES.deploymentStarted),
    validated: await events(EVENT_TYPES.validationCompleted),
    checked: await events(EVENT_TYPES.dependencyChecked),
    probed: await events(EVENT_TYPES.healthChecked),
    notified: await events(EVENT_TYPES.notificationSent),
    deadLetters: (await readAll(redis, topology.deadLetterStream)).map(([, flat]) => {
      const letter = decodeDeadLetter(flat);
      return {
        stream: letter.stream,
        id: letter.id,
        worker: letter.worker,
        reason: letter.reason,
        deliveryCount: letter.deliveryCount,
      };
    }),
    registry,
    groups: await readGroups(redis, topology),
    webhooks,
  };
}
