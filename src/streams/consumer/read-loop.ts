import { reconnectDelay } from '../../redis/redis-options';
import type { ConsumerSpec } from '../handler';
import type { CommitBatcher } from './commit-batcher';
import type { ConsumerGroups } from './consumer-groups';
import type { ConsumerScope, ConsumerSettings } from './contracts';
import type { Dispatch } from './dispatcher';
import type { Outcomes } from './outcomes';
import type { ReadConnection } from './read-connection';
import type { Reclaimer } from './reclaimer';
import { ConnectionLostError, isNoGroupError, passesByItself, sleep } from './redis-wait';
import type { RawEntry } from './task';
import type { TaskTable } from './task-table';

/** The BLOCK of a read that leaves some of the worker's streams out (fewer free slots than streams). */
const PARTIAL_READ_BLOCK_MS = 20;

/** What the read loop drives. */
export interface ReadLoopContext extends ConsumerScope {
  streams: ConsumerSpec['streams'];
  settings: Pick<ConsumerSettings, 'blockMs' | 'claimIdleMs'>;
  reads: Pick<ReadConnection, 'waitReady' | 'identified' | 'identify' | 'read'>;
  tasks: Pick<TaskTable, 'freeSlots' | 'waitForSlot'>;
  reclaimer: Pick<Reclaimer, 'claimIdle'>;
  groups: Pick<ConsumerGroups, 'recreate'>;
  batcher: Pick<CommitBatcher, 'flush'>;
  outcomes: Pick<Outcomes, 'countError'>;
  dispatch: Dispatch;
}

/**
 * Reads and claims until stopped: a claim round every half CLAIM_IDLE_MS,
 * then a blocking XREADGROUP for at most the free slots. Reads and claims
 * ask for no more than the free slots, so concurrency stays a hard bound.
 */
export class ReadLoop {
  private readonly abort = new AbortController();
  private nextClaimAt = 0;
  private rotation = 0;
  /** When the loop last polled (epoch ms), for the hang check. */
  lastLoopAt: number | undefined;

  constructor(private readonly ctx: ReadLoopContext) {}

  /** Aborted once reading stops: no read or claim is issued after it. */
  get stopped(): AbortSignal {
    return this.abort.signal;
  }

  stop(): void {
    this.abort.abort(new Error('stopping'));
  }

  private get claimIntervalMs(): number {
    return Math.max(50, Math.floor(this.ctx.settings.claimIdleMs / 2));
  }

  /**
   * Runs until stop(). Errors are caught, counted and retried with an
   * abortable backoff; only a bug escapes (and fails the worker).
   */
  async run(): Promise<void> {
    const { reads, tasks, reclaimer, settings } = this.ctx;
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await reads.waitReady(signal);
        if (!reads.identified) {
          await reads.identify();
        }
        if (Date.now() >= this.nextClaimAt && tasks.freeSlots > 0 && !signal.aborted) {
          // A backlog of idle entries (a crashed consumer's, an outage's
          // failures) is worked off at the handlers' pace, not one claim
          // round per interval: at concurrency 1 and the default 60 s idle,
          // that was one entry per 30 s per process.
          const more = await reclaimer.claimIdle(signal);
          this.nextClaimAt = Date.now() + (more ? 0 : this.claimIntervalMs);
        }
        if (signal.aborted) {
          // stopReading() landed during an await: no new read.
          break;
        }
        if (tasks.freeSlots <= 0) {
          await tasks.waitForSlot(Math.min(settings.blockMs, this.claimIntervalMs), signal);
          this.lastLoopAt = Date.now();
          continue;
        }
        await this.readNew();
        this.lastLoopAt = Date.now();
        failures = 0;
      } catch (error) {
        if (signal.aborted) {
          break;
        }
        failures += 1;
        await this.onError(error, failures);
      }
    }
  }

  private async onError(error: unknown, failures: number): Promise<void> {
    const worker = this.ctx.worker;
    if (isNoGroupError(error)) {
      await this.ctx.groups.recreate();
    } else if (error instanceof ConnectionLostError) {
      this.ctx.log.debug({ event: 'consumer.read_interrupted', worker }, 'read interrupted');
    } else if (passesByItself(error)) {
      // A failover or resharding: redis.disconnected/reconnected and readiness
      // tell the operator; one line per retry would only be noise.
      this.ctx.outcomes.countError('redis');
      this.ctx.log.debug(
        { event: 'consumer.read_deferred', worker, err: error },
        'stream read deferred: Redis is failing over or moving the slot',
      );
    } else {
      this.ctx.outcomes.countError('redis');
      this.ctx.log.warn(
        { event: 'consumer.read_failed', worker, err: error },
        'stream read failed',
      );
    }
    // The first retry after a disconnect waits for 'ready' anyway; repeated
    // failures back off so a persistent error (NOGROUP again, ACL) never spins.
    try {
      await sleep(failures <= 1 ? 0 : reconnectDelay(failures), this.abort.signal);
    } catch {
      // Stop requested while backing off.
    }
  }

  private async readNew(): Promise<void> {
    const { streams: all, settings } = this.ctx;
    this.ctx.batcher.flush();
    // COUNT applies per stream: read at most `free` streams with COUNT free/k
    // each so the total stays within the free slots, rotating which streams
    // come first so none starves when slots are scarce.
    const free = this.ctx.tasks.freeSlots;
    const k = Math.min(all.length, free);
    // A read of only some streams blocks briefly: a long block on an empty
    // one left entries of the others waiting STREAM_BLOCK_MS (the last
    // notifications of a 5,000-deployment burst came 5.0 s late).
    const longest = k < all.length ? PARTIAL_READ_BLOCK_MS : settings.blockMs;
    const blockMs = Math.max(1, Math.min(longest, this.nextClaimAt - Date.now()));
    const offset = this.rotation++ % all.length;
    const args: Array<string | number> = [
      'GROUP',
      this.ctx.group,
      this.ctx.consumerName,
      'COUNT',
      Math.floor(free / k),
      'BLOCK',
      blockMs,
      'STREAMS',
    ];
    for (let i = 0; i < k; i += 1) {
      args.push((all[(offset + i) % all.length] as ConsumerSpec['streams'][number]).stream);
    }
    for (let i = 0; i < k; i += 1) {
      args.push('>');
    }
    const reply = await this.ctx.reads.read(args, blockMs, this.abort.signal);
    if (!Array.isArray(reply)) {
      return;
    }
    for (const [stream, entries] of reply as Array<[string, RawEntry[]]>) {
      const source = all[0]?.stream === stream ? all[0] : all.find((s) => s.stream === stream);
      if (!source) {
        continue;
      }
      for (const [entryId, fields] of entries) {
        // XREADGROUP '>' is always a first delivery.
        this.ctx.dispatch(source.stream, source.eventType, entryId, fields ?? [], 1);
      }
    }
  }
}
