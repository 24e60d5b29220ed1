import type { RedisClient } from '../../redis/connection-factory';
import type { ConsumerSpec } from '../handler';
import type { StreamGroup } from '../topology';
import type { Commands } from './command-connection';
import type { Committer } from './committer';
import type { ConsumerScope } from './contracts';
import type { Outcomes } from './outcomes';
import type { Reclaimer } from './reclaimer';
import { reconnectDelay } from '../../redis/redis-options';
import { ConnectionLostError, isBusyGroupError, passesByItself, sleep } from './redis-wait';

/**
 * XGROUP CREATE … MKSTREAM at `startId`: true when created, false when the
 * group already existed (BUSYGROUP), which is left as it is. `send` carries
 * the command (e.g. under a reply timeout).
 */
export async function createGroup(
  redis: RedisClient,
  stream: string,
  group: string,
  startId: string,
  send: (command: Promise<unknown>) => Promise<unknown> = (command) => command,
): Promise<boolean> {
  try {
    await send(redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM'));
    return true;
  } catch (error) {
    if (isBusyGroupError(error)) {
      return false;
    }
    throw error;
  }
}

/** Creates each (stream, group) pair at `startId` (see createGroup); returns the pairs created. */
export async function ensureGroups(
  redis: RedisClient,
  pairs: readonly StreamGroup[],
  startId: string,
): Promise<StreamGroup[]> {
  const created: StreamGroup[] = [];
  for (const pair of pairs) {
    if (await createGroup(redis, pair.stream, pair.group, startId)) {
      created.push(pair);
    }
  }
  return created;
}

/** What a consumer's group membership needs. */
export interface ConsumerGroupsContext extends ConsumerScope {
  streams: ConsumerSpec['streams'];
  commands: Pick<Commands, 'client' | 'ready' | 'run' | 'within' | 'waitReady'>;
  committer: Pick<Committer, 'watermark'>;
  reclaimer: Pick<Reclaimer, 'forget'>;
  outcomes: Pick<Outcomes, 'countError'>;
}

/**
 * Tries at joining a group at start when the connection drops or Redis fails
 * over meanwhile: with the reconnect backoff, about 15–30 s in all.
 */
const JOIN_ATTEMPTS = 10;

/** Below this much time left, the optional XPENDING/DELCONSUMER clean-up is skipped. */
const MIN_CLEANUP_MS = 300;

/** One consumer's groups: created at start, recreated when lost, left when it stops idle. */
export class ConsumerGroups {
  constructor(private readonly ctx: ConsumerGroupsContext) {}

  /**
   * The group (see createGroup), then this consumer in it: Redis lists a
   * consumer only from its first delivery otherwise, so an idle but healthy
   * worker would show no one attached in `status` and /status.
   */
  async create(stream: string, fromId: string): Promise<boolean> {
    const { commands, group, consumerName } = this.ctx;
    const created = await createGroup(commands.client, stream, group, fromId, (command) =>
      commands.run(command),
    );
    await commands.run(commands.client.xgroup('CREATECONSUMER', stream, group, consumerName));
    return created;
  }

  /**
   * create() for each of the worker's streams, at start. A connection lost
   * or a failover meanwhile is waited out (reconnect, then backoff) as the
   * read loop does, so a failover that lands on a start does not fail the
   * worker; a refusal that waiting does not mend (NOPERM, WRONGTYPE) throws
   * at once. `wanted()` false (a stop came) or `signal` aborted end it.
   */
  async join(fromId: string, wanted: () => boolean, signal: AbortSignal): Promise<void> {
    const { commands, worker, log } = this.ctx;
    for (const { stream } of this.ctx.streams) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await this.create(stream, fromId);
          break;
        } catch (error) {
          const passes = error instanceof ConnectionLostError || passesByItself(error);
          if (!passes || attempt >= JOIN_ATTEMPTS || !wanted()) {
            throw error;
          }
          log.info(
            { event: 'consumer.start_retry', worker, stream, attempt, err: error },
            'joining the consumer group was interrupted; retrying once Redis is back',
          );
          await sleep(reconnectDelay(attempt), signal);
          await commands.waitReady(signal);
        }
      }
      if (!wanted()) {
        return;
      }
    }
  }

  /**
   * The group (or its stream) vanished under us: a FLUSHALL, XGROUP DESTROY or
   * a restart without persistence. Recreate it from the last id this worker
   * committed: `$` would drop what arrived meanwhile, `0` would replay everything.
   *
   * Without such a watermark (nothing committed since the process started)
   * the stream itself decides. Empty or gone (Redis restarted without
   * persistence, FLUSHALL): everything that will be in it is new, so `0`
   * loses nothing. Still holding entries (XGROUP DESTROY with the stream
   * intact): `0` would re-run the whole history — re-probe every deployment,
   * re-notify every subscriber — which is worse than skipping the few
   * entries added while the group was missing, so `$`, logged at error level
   * for an operator to replay those if needed.
   */
  async recreate(): Promise<void> {
    const { commands, worker, group, log } = this.ctx;
    for (const { stream } of this.ctx.streams) {
      try {
        const watermark = this.ctx.committer.watermark(stream);
        let fromId = watermark;
        if (fromId === undefined) {
          const length = await commands.run(commands.client.xlen(stream));
          fromId = length > 0 ? '$' : '0';
        }
        if (!(await this.create(stream, fromId))) {
          continue;
        }
        this.ctx.reclaimer.forget(stream);
        const fields = { worker, stream, group };
        if (watermark === undefined && fromId === '$') {
          log.error(
            { event: 'stream.group_recreated', ...fields, startId: fromId },
            'consumer group was missing and no committed id is known; recreated at $ so history is not replayed. Entries added while the group was missing were skipped: use XGROUP SETID or replay them if they matter',
          );
        } else {
          log.warn(
            { event: 'group.recreated', ...fields, fromId },
            watermark === undefined
              ? 'consumer group and its stream were missing; recreated from the start'
              : 'consumer group was missing; recreated from the last committed id',
          );
        }
      } catch (error) {
        this.ctx.outcomes.countError('redis');
        log.warn(
          { event: 'group.recreate_failed', worker, stream, err: error },
          'could not recreate the consumer group',
        );
      }
    }
  }

  /**
   * Removes this consumer from its groups where it owns nothing, so restarts
   * do not pile up dead consumer names; best effort, within what `left()`
   * (ms) says remains, keeping time for the QUIT that follows.
   */
  async leave(left: () => number): Promise<void> {
    const { commands, streams, group, consumerName } = this.ctx;
    if (!commands.ready || left() < MIN_CLEANUP_MS) {
      return;
    }
    try {
      // Leave time for QUIT after the clean-up.
      const budget = Math.min(1000, Math.floor(left() / 2));
      const pipeline = commands.client.pipeline();
      for (const { stream } of streams) {
        pipeline.call('XPENDING', stream, group, '-', '+', '1', consumerName);
      }
      const replies = (await commands.within(pipeline.exec(), budget)) ?? [];
      const idle = streams.filter(
        (_, i) => !replies[i]?.[0] && (replies[i]?.[1] as unknown[] | undefined)?.length === 0,
      );
      if (idle.length > 0 && left() >= MIN_CLEANUP_MS / 2) {
        // DELCONSUMER drops the consumer's pending entries too: only where there are none.
        const dels = commands.client.pipeline();
        for (const { stream } of idle) {
          dels.xgroup('DELCONSUMER', stream, group, consumerName);
        }
        await commands.within(dels.exec(), Math.min(1000, Math.floor(left() / 2)));
      }
    } catch {
      // Best effort: a leftover idle consumer name is harmless.
    }
  }
}
