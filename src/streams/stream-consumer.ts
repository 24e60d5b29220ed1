import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ChainableCommander, default as Redis, RedisOptions } from 'ioredis';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { AppConfig } from '../config/app-config';
import { InvalidEntryError } from '../errors/invalid-entry.error';
import { redactText } from '../logging/redact';
import { reconnectDelay } from '../redis/redis-options';
import { type DeadLetterReason, encodeDeadLetter } from './dead-letter';
import {
  type Envelope,
  encodeOutputEnvelope,
  entryBytes,
  mayExceedBytes,
  parseEnvelope,
  replayTarget,
} from './envelope';
import type { ConsumerSpec, HandlerResult, InboundMessage, OutboundEvent } from './handler';
import {
  ConnectionLostError,
  ReplyTimeoutError,
  guard,
  isBusyGroupError,
  isNoGroupError,
  sleep,
  waitReady,
} from './redis-wait';
import { compareStreamIds } from './stream-ids';
import type { EventType } from './topology';
import { StreamTopology } from './topology';

/** Settings the runtime reads from AppConfig (`streams.*` and the hang bound). */
export type ConsumerSettings = AppConfig['streams'] &
  Pick<AppConfig['supervisor'], 'hangThresholdMs'>;

/** The SPEC §6 metrics the runtime feeds, labelled by worker. */
export interface ConsumerMetrics {
  processed: Counter;
  processingSeconds: Histogram;
  inFlight: Gauge;
  deadLetters: Counter;
  errors: Counter;
}

/** Cumulative per-worker counters. Owned by the worker so they outlive one consumer. */
export interface WorkerCounters {
  processed: number;
  failed: number;
  deadLettered: number;
  /**
   * Highest entry id committed per stream key by any of the worker's
   * consumers: where a lost group is recreated from, even by a consumer
   * started after the one that did the committing. Created by the first
   * consumer when absent.
   */
  lastCommitted?: Map<string, string>;
}

/** Structured logger: fields first, constant message (PinoLogger and pino both fit). */
export interface ConsumerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Opens a new, lazily connecting Redis connection (RedisService.createConnection). */
export type ConnectionFactory = (name: string, overrides: RedisOptions) => Redis;

export interface StreamConsumerOptions {
  spec: ConsumerSpec;
  settings: ConsumerSettings;
  connect: ConnectionFactory;
  metrics: ConsumerMetrics;
  logger: ConsumerLogger;
  counters: WorkerCounters;
  /** Name within the group; defaults to `<host>:<pid>:<random>`, unique per start. */
  consumerName?: string;
  /** How long a non-blocking command may wait for its reply; defaults to 10 s. */
  commandTimeoutMs?: number;
}

/** What the consumer says about itself; the worker adds its counters. */
export interface ConsumerHealth {
  healthy: boolean;
  reason?: string;
  /** Unhealthy only because a connection is down and reconnecting. */
  waitingForRedis?: boolean;
  lastLoopAt?: number;
  inFlight: number;
  details: Record<string, unknown>;
}

/** A handler did not settle within the worker's `handlerTimeoutMs`. */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError';
}

/** The consumer is stopping and its drain deadline has passed. */
class StopDeadlineError extends Error {
  override readonly name = 'StopDeadlineError';
}

/** The keep-alive found the entry owned by another consumer: not ours to commit. */
class ClaimLostError extends Error {
  override readonly name = 'ClaimLostError';
}

interface Task {
  /** taskKey(stream, entryId): its key in the consumer's task map. */
  key: string;
  stream: string;
  eventType: EventType;
  entryId: string;
  fields: string[];
  deliveryCount: number;
  /** performance.now() when read or claimed. */
  receivedAt: number;
  /** Date.now() when the handler started, for the claim keep-alive. */
  handlerStartedAt: number | undefined;
  handlerRunning: boolean;
  /** The timeout sweep found the handler overdue; cleared when the handler settles. */
  timedOut: boolean;
  /** Fails the running handler's wait with a timeout (set while the handler runs). */
  expire: ((error: Error) => void) | undefined;
  /** Called once the handler has really settled, when a timed-out entry waits for its slot. */
  onSettled: (() => void) | undefined;
  /** Keep-alive found the entry owned by another consumer: it is theirs to commit now. */
  claimLost: boolean;
  /**
   * Made on first use of `message.signal`: most handlers never look at it,
   * and one AbortController per entry is a measurable share of the hot path.
   */
  controller: AbortController | undefined;
  /** Why the entry was aborted, kept for a signal asked for afterwards. */
  abortReason: Error | undefined;
}

/** Aborts a task's signal, now or whenever the handler first asks for it. */
function abortTask(task: Task, reason: Error): void {
  task.abortReason ??= reason;
  task.controller?.abort(reason);
}

/** The task's AbortSignal, created lazily and already aborted if the task was. */
function taskSignal(task: Task): AbortSignal {
  if (!task.controller) {
    task.controller = new AbortController();
    if (task.abortReason) {
      task.controller.abort(task.abortReason);
    }
  }
  return task.controller.signal;
}

type RawEntry = [id: string, fields: string[] | null];

/** Writes added to a MULTI before the entry's XACK (its outputs, or its dead letter). */
type CommitWrites = (multi: ChainableCommander) => void;

/**
 * Called once the MULTI holding a commit has run: `applied` with the first
 * command of this entry that failed inside it, if any; otherwise not applied
 * (or not known to be), with the error that kept the EXEC reply away.
 */
type CommitDone = (applied: boolean, error: unknown) => void;

/** A commit waiting for the next flush into the shared MULTI. */
interface QueuedCommit {
  task: Task;
  writes: CommitWrites | undefined;
  done: CommitDone;
}

/** How long one non-blocking command may take before the connection is presumed dead. */
const COMMAND_TIMEOUT_MS = 10_000;
/** A blocking read is given this much longer than its BLOCK before it is presumed lost. */
const READ_GRACE_MS = 5_000;
/**
 * Claim keep-alive that only touches entries still ours. A peer may have
 * reclaimed one legitimately (our connection was down longer than
 * CLAIM_IDLE_MS); a plain XCLAIM would steal it back and both would commit.
 * KEYS[1] stream; ARGV group, consumer, ids… Returns the ids no longer ours.
 */
const KEEP_ALIVE_SCRIPT = `
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local row = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if row and row[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
`;
/**
 * After stopReading(), how long the blocked read may take to return once
 * CLIENT UNBLOCK was sent before its connection is dropped anyway.
 */
const UNBLOCK_WAIT_MS = 500;
/** CLIENT UNBLOCK found no blocked read yet (still on the wire): asked again after this. */
const UNBLOCK_RETRY_MS = 20;
/** At most this much of a stop's time is kept for closing (clean-up, QUIT, socket end). */
const MAX_CLOSE_BUDGET_MS = 1000;
/** Below this much time left, the optional XPENDING/DELCONSUMER clean-up is skipped. */
const MIN_CLEANUP_MS = 300;
/** Below this much time left, the command connection is dropped instead of QUIT. */
const MIN_QUIT_MS = 50;
/** Closing aims this much before the deadline, for timer and socket-close lateness. */
const CLOSE_SLACK_MS = 20;

/**
 * A reliable consumer of one worker's stream(s) in one consumer group
 * (SPEC §2, §4). One instance per worker start; `stop()` ends it for good.
 *
 * Guarantees, and how:
 * - At-least-once: an entry is acknowledged only in the same MULTI that
 *   writes its outputs (or its dead letter). Nothing is acked before that.
 * - Concurrency is a hard bound: reads and claims ask for at most the free
 *   slots, and a slot is released only when the handler has settled, even
 *   past its timeout.
 * - Redelivery: every consumer runs XAUTOCLAIM (min idle CLAIM_IDLE_MS) from
 *   its read loop, so claims never race the read for slots. Delivery counts
 *   come from Redis, so MAX_DELIVERIES holds across restarts.
 * - Long handlers re-claim their entries to themselves (XCLAIM … JUSTID)
 *   every third of CLAIM_IDLE_MS so no peer steals them, but only while
 *   still the owner: an entry a peer has reclaimed is left to the peer.
 * - Redis loss: both connections run with `autoResendUnfulfilledCommands:
 *   false` (a re-sent XREADGROUP can hang forever, a re-sent MULTI would
 *   commit twice). A read interrupted by a disconnect is simply issued again
 *   once ready; a commit whose reply was lost is checked with XPENDING before
 *   any retry — MULTI is atomic, so an entry no longer pending was committed.
 */
export class StreamConsumer {
  readonly consumerName: string;
  private readonly spec: ConsumerSpec;
  private readonly settings: ConsumerSettings;
  private readonly topology: StreamTopology;
  private readonly log: ConsumerLogger;
  private readonly labels: { worker: string };
  /** prom-client children bound once: a label object per inc() was a measurable share of the hot path. */
  private readonly okCount: { inc(): void };
  private readonly skippedCount: { inc(): void };
  private readonly latency: { observe(value: number): void };
  private readonly inFlightGauge: { set(value: number): void };
  private inFlightUpdateQueued = false;
  private blocking: Redis | undefined;
  private commands: Redis | undefined;
  /**
   * CLIENT ID of the blocking connection since its last (re)connect; unset
   * while it is down, null when Redis refused to tell (e.g. an ACL).
   */
  private blockingClientId: number | null | undefined;
  /** Settles (never rejects) when the XREADGROUP in flight has returned or failed. */
  private readInFlight: Promise<void> | undefined;
  private readonly tasks = new Map<string, Task>();
  /** Highest committed id per stream; lives in the worker's counters so it outlives this consumer. */
  private readonly watermarks: Map<string, string>;
  private readonly claimCursor = new Map<string, string>();
  private readonly loopAbort = new AbortController();
  /** Aborted at the stop deadline: commit retries and waits give up, handlers are told to stop. */
  private readonly drainAbort = new AbortController();
  private slotWaiters: Array<() => void> = [];
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private runLoop: Promise<void> | undefined;
  private started = false;
  /** Set by stopReading(): no new reads or claims from here on. */
  private readingStopped = false;
  /** Set when a command got no reply in time, cleared by the next reply: a half-open connection. */
  private commandsTimingOut = false;
  private readonly commandTimeoutMs: number;
  private stopping: Promise<void> | undefined;
  private loopError: Error | undefined;
  private startedAt = 0;
  private lastLoopAt: number | undefined;
  private nextClaimAt = 0;
  private readRotation = 0;
  private commitQueue: QueuedCommit[] = [];

  constructor(private readonly options: StreamConsumerOptions) {
    this.spec = options.spec;
    this.settings = options.settings;
    this.topology = new StreamTopology(options.settings.prefix, options.settings.registryPrefix);
    this.log = options.logger;
    this.labels = { worker: options.spec.worker };
    const metrics = options.metrics;
    this.okCount = metrics.processed.labels({ ...this.labels, outcome: 'ok' });
    this.skippedCount = metrics.processed.labels({ ...this.labels, outcome: 'skipped' });
    this.latency = metrics.processingSeconds.labels(this.labels);
    this.inFlightGauge = metrics.inFlight.labels(this.labels);
    this.commandTimeoutMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.watermarks = options.counters.lastCommitted ??= new Map<string, string>();
    this.consumerName =
      options.consumerName ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    if (this.spec.streams.length === 0) {
      throw new Error(`worker ${this.spec.worker} reads no stream`);
    }
    if (this.spec.concurrency < 1) {
      throw new Error(`worker ${this.spec.worker} needs a concurrency of at least 1`);
    }
  }

  /**
   * Connects, makes sure this worker's groups exist and starts the read loop.
   * Resolves once reading has begun; rejects when Redis cannot be reached.
   * `onFailure` is called at most once, if the read loop dies on its own.
   */
  async start(onFailure: (error: Error) => void): Promise<void> {
    if (this.started) {
      throw new Error(`consumer of ${this.spec.worker} already started`);
    }
    this.started = true;
    this.startedAt = Date.now();
    const worker = this.spec.worker;
    const common: RedisOptions = {
      autoResendUnfulfilledCommands: false,
      // Commands are only written while connected; anything queued offline
      // could be sent later, after we have already given up on it.
      enableOfflineQueue: false,
      // Lets the kernel notice a dead peer on an idle socket too.
      keepAlive: 10_000,
      maxRetriesPerRequest: null,
    };
    this.blocking = this.options.connect(`printery:${worker}:read`, common);
    this.commands = this.options.connect(`printery:${worker}:commit`, common);
    // One 'close' listener per in-flight command (see guard()); the bound is concurrency.
    this.blocking.setMaxListeners(0);
    // A reconnect gets a new client id; the read loop asks for it again before reading.
    this.blocking.on('close', () => {
      this.blockingClientId = undefined;
    });
    this.commands.setMaxListeners(0);
    try {
      this.throwIfStopped();
      await Promise.all([this.blocking.connect(), this.commands.connect()]);
      // stop() or stopReading() may land while we wait: nothing may be armed after it.
      this.throwIfStopped();
      for (const { stream } of this.spec.streams) {
        await this.createGroup(stream, this.settings.groupStartId);
        this.throwIfStopped();
      }
    } catch (error) {
      this.blocking.disconnect();
      this.commands.disconnect();
      throw error;
    }
    this.keepAliveTimer = setInterval(() => void this.keepAlive(), this.keepAliveIntervalMs);
    this.keepAliveTimer.unref();
    this.timeoutTimer = setInterval(() => this.expireOverdue(), this.timeoutSweepMs);
    this.timeoutTimer.unref();
    this.runLoop = this.readLoop().catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.loopError = failure;
      this.log.error(
        { event: 'consumer.loop_died', worker, err: failure },
        'stream read loop stopped unexpectedly',
      );
      this.options.metrics.errors.inc({ ...this.labels, kind: 'loop' });
      onFailure(failure);
    });
    this.log.info(
      {
        event: 'consumer.started',
        worker,
        consumer: this.consumerName,
        group: this.spec.group,
        streams: this.spec.streams.map((s) => s.stream),
        concurrency: this.spec.concurrency,
      },
      'stream consumer started',
    );
  }

  private throwIfStopped(): void {
    if (this.stopping || this.readingStopped) {
      throw new Error(`consumer of ${this.spec.worker} was stopped while starting`);
    }
  }

  /**
   * Stops taking new work at once, without waiting for anything; in-flight
   * handlers carry on and a later `stop(deadline)` drains them. No read or
   * claim is issued after it; entries a read or claim already in flight
   * brings back are delivered to this consumer and handled as in-flight work.
   * Idempotent; a no-op when not started.
   */
  stopReading(): void {
    if (!this.started || this.readingStopped) {
      return;
    }
    this.readingStopped = true;
    this.loopAbort.abort(new Error('stopping'));
    this.releaseSlot();
    void this.endReads();
  }

  /**
   * Ends the blocked XREADGROUP, then closes its connection. CLIENT UNBLOCK
   * (TIMEOUT mode) makes it return nil with nothing delivered; a read Redis
   * had already served still brings its entries, which are then handled.
   * Cutting the connection instead would strand a served read's entries in
   * our PEL until CLAIM_IDLE_MS: that is only the fallback when the command
   * connection is down or the read does not return within UNBLOCK_WAIT_MS.
   */
  private async endReads(): Promise<void> {
    const blocking = this.blocking;
    if (!blocking) {
      return;
    }
    const read = this.readInFlight;
    if (read && !(await this.unblockRead(read))) {
      this.log.warn(
        { event: 'consumer.read_cut', worker: this.spec.worker },
        'blocked read could not be unblocked; its connection is dropped and anything it delivered stays pending until claimed',
      );
    }
    try {
      blocking.disconnect();
    } catch {
      // Already closed.
    }
  }

  /** Sends CLIENT UNBLOCK for the read in flight; true once the read has returned. */
  private async unblockRead(read: Promise<void>): Promise<boolean> {
    let returned = false;
    void read.then(() => {
      returned = true;
    });
    const until = Date.now() + UNBLOCK_WAIT_MS;
    while (!returned && Date.now() < until) {
      const commands = this.commands;
      const clientId = this.blockingClientId;
      if (!commands || commands.status !== 'ready' || clientId === undefined || clientId === null) {
        return false;
      }
      let unblocked: unknown;
      try {
        unblocked = await guard(
          commands,
          commands.client('UNBLOCK', clientId),
          Math.max(1, until - Date.now()),
        );
      } catch {
        return returned;
      }
      // 0: the read was already served (its reply is on the way) or has not
      // reached Redis yet (it travels on another connection): ask again.
      await settledWithin(
        read,
        unblocked === 1 ? until - Date.now() : Math.min(UNBLOCK_RETRY_MS, until - Date.now()),
      );
    }
    return returned;
  }

  /**
   * Stops reading at once, lets in-flight handlers finish until `deadline`
   * (epoch ms), commits what finished and leaves the rest pending for another
   * consumer. Idempotent: every call returns the same promise.
   */
  stop(deadline: number): Promise<void> {
    this.stopping ??= this.drain(deadline);
    return this.stopping;
  }

  health(): ConsumerHealth {
    const now = Date.now();
    const inFlight = this.tasks.size;
    const overdue = [...this.tasks.values()].filter((t) => t.timedOut).length;
    const details = { consumer: this.consumerName, overdueHandlers: overdue };
    const base = { lastLoopAt: this.lastLoopAt, inFlight, details };
    let reason: string | undefined;
    if (!this.started) {
      reason = 'not started';
    } else if (this.loopError) {
      reason = `read loop died: ${redactText(this.loopError.message)}`;
    } else if (this.stopping || this.readingStopped) {
      reason = 'stopping';
    } else if (this.commandsTimingOut) {
      reason = `commands to Redis time out (no reply within ${this.commandTimeoutMs}ms)`;
    } else if (this.blocking?.status !== 'ready' || this.commands?.status !== 'ready') {
      return { healthy: false, reason: 'redis connection down', waitingForRedis: true, ...base };
    } else if (now - (this.lastLoopAt ?? this.startedAt) > this.settings.hangThresholdMs) {
      reason = `read loop has not polled for ${now - (this.lastLoopAt ?? this.startedAt)}ms`;
    } else if (overdue > 0) {
      reason = `${overdue} handler(s) exceeded the ${this.spec.handlerTimeoutMs}ms timeout`;
    }
    return reason ? { healthy: false, reason, ...base } : { healthy: true, ...base };
  }

  /**
   * Runs a command on the command connection under the reply timeout. A
   * timeout with the socket still open means a half-open connection (TCP
   * keep-alive takes far longer to notice): it is dropped and reopened at
   * once, and the consumer reports itself unhealthy until a reply arrives.
   */
  private async onCommands<T>(command: Promise<T>, timeoutMs = this.commandTimeoutMs): Promise<T> {
    const commands = this.commands as Redis;
    try {
      const reply = await guard(commands, command, timeoutMs);
      this.commandsTimingOut = false;
      return reply;
    } catch (error) {
      if (error instanceof ReplyTimeoutError && !this.stopping) {
        if (!this.commandsTimingOut) {
          this.log.warn(
            { event: 'consumer.command_timeout', worker: this.spec.worker, timeoutMs },
            'a command to Redis got no reply in time; reconnecting',
          );
        }
        this.commandsTimingOut = true;
        if (commands.status === 'ready') {
          commands.disconnect(true);
        }
      }
      throw error;
    }
  }

  private get keepAliveIntervalMs(): number {
    return Math.max(50, Math.floor(this.settings.claimIdleMs / 3));
  }

  /**
   * One sweep per consumer instead of a timer and a Promise.race per entry,
   * which were a measurable share of the hot path. A handler timeout thus
   * fires up to one sweep period (a quarter of the timeout, at most 1 s) late.
   */
  private get timeoutSweepMs(): number {
    return Math.max(10, Math.min(Math.floor(this.spec.handlerTimeoutMs / 4), 1000));
  }

  private get claimIntervalMs(): number {
    return Math.max(50, Math.floor(this.settings.claimIdleMs / 2));
  }

  private get freeSlots(): number {
    return this.spec.concurrency - this.tasks.size;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads and claims until stopped. Errors are caught, counted and retried
   * with an abortable backoff; only a bug escapes (and fails the worker).
   */
  private async readLoop(): Promise<void> {
    const signal = this.loopAbort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await waitReady(this.blocking as Redis, signal);
        if (this.blockingClientId === undefined) {
          await this.identifyBlocking();
        }
        if (Date.now() >= this.nextClaimAt && this.freeSlots > 0 && !signal.aborted) {
          await this.claimIdle();
          this.nextClaimAt = Date.now() + this.claimIntervalMs;
        }
        if (signal.aborted) {
          // stopReading() landed during an await: no new read.
          break;
        }
        if (this.freeSlots <= 0) {
          await this.waitForSlot(Math.min(this.settings.blockMs, this.claimIntervalMs));
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
        await this.onLoopError(error, failures);
      }
    }
  }

  private async onLoopError(error: unknown, failures: number): Promise<void> {
    const worker = this.spec.worker;
    if (isNoGroupError(error)) {
      await this.recreateGroups();
    } else if (error instanceof ConnectionLostError) {
      this.log.debug({ event: 'consumer.read_interrupted', worker }, 'read interrupted');
    } else {
      this.options.metrics.errors.inc({ ...this.labels, kind: 'redis' });
      this.log.warn({ event: 'consumer.read_failed', worker, err: error }, 'stream read failed');
    }
    // The first retry after a disconnect waits for 'ready' anyway; repeated
    // failures back off so a persistent error (NOGROUP again, ACL) never spins.
    try {
      await sleep(failures <= 1 ? 0 : reconnectDelay(failures), this.loopAbort.signal);
    } catch {
      // Stop requested while backing off.
    }
  }

  /**
   * Learns the blocking connection's CLIENT ID, which stopReading() needs to
   * unblock its read. Asked on that connection itself before it blocks, so
   * the reply never waits behind a blocked read.
   */
  private async identifyBlocking(): Promise<void> {
    const blocking = this.blocking as Redis;
    try {
      this.blockingClientId = await guard(blocking, blocking.client('ID'), this.commandTimeoutMs);
    } catch (error) {
      if (!(error instanceof ConnectionLostError)) {
        // Refused by Redis (e.g. an ACL without CLIENT): reading works
        // without it; only stopReading() falls back to cutting the connection.
        this.blockingClientId = null;
        this.log.warn(
          { event: 'consumer.client_id_unavailable', worker: this.spec.worker, err: error },
          'CLIENT ID refused; a stop will cut the blocked read instead of unblocking it',
        );
        return;
      }
      if (error instanceof ReplyTimeoutError && blocking.status === 'ready') {
        // Half-open, as in readNew(): reconnect.
        blocking.disconnect(true);
      }
      throw error;
    }
  }

  private async readNew(): Promise<void> {
    this.flushCommits();
    const blocking = this.blocking as Redis;
    const blockMs = Math.max(1, Math.min(this.settings.blockMs, this.nextClaimAt - Date.now()));
    // COUNT applies per stream: read at most `free` streams with COUNT free/k
    // each so the total stays within the free slots, rotating which streams
    // come first so none starves when slots are scarce.
    const free = this.freeSlots;
    const all = this.spec.streams;
    const k = Math.min(all.length, free);
    const offset = this.readRotation++ % all.length;
    const args: Array<string | number> = [
      'GROUP',
      this.spec.group,
      this.consumerName,
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
    const read = guard(blocking, blocking.call('XREADGROUP', args), blockMs + READ_GRACE_MS).catch(
      (error: unknown) => {
        if (
          error instanceof ReplyTimeoutError &&
          blocking.status === 'ready' &&
          !this.loopAbort.signal.aborted
        ) {
          // No reply although the socket looks fine: a half-open connection.
          // Reconnect; the lost read's entries (if any) are reclaimed when idle.
          blocking.disconnect(true);
        }
        throw error;
      },
    );
    const inFlight = read.then(
      () => undefined,
      () => undefined,
    );
    this.readInFlight = inFlight;
    let reply: unknown;
    try {
      reply = await read;
    } finally {
      if (this.readInFlight === inFlight) {
        this.readInFlight = undefined;
      }
    }
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
        this.dispatch(source.stream, source.eventType, entryId, fields ?? [], 1);
      }
    }
  }

  /** XAUTOCLAIM entries idle for CLAIM_IDLE_MS, up to the free slots. */
  private async claimIdle(): Promise<void> {
    const commands = this.commands as Redis;
    for (const { stream, eventType } of this.spec.streams) {
      const free = this.freeSlots;
      if (free <= 0 || this.readingStopped) {
        return;
      }
      let reply: unknown;
      try {
        reply = await this.onCommands(
          commands.call(
            'XAUTOCLAIM',
            stream,
            this.spec.group,
            this.consumerName,
            String(this.settings.claimIdleMs),
            this.claimCursor.get(stream) ?? '0-0',
            'COUNT',
            String(free),
          ),
        );
      } catch (error) {
        if (isNoGroupError(error)) {
          throw error;
        }
        this.options.metrics.errors.inc({ ...this.labels, kind: 'redis' });
        this.log.warn(
          { event: 'consumer.claim_failed', worker: this.spec.worker, stream, err: error },
          'XAUTOCLAIM failed',
        );
        continue;
      }
      const [cursor, entries, deletedIds] = reply as [string, RawEntry[], string[] | undefined];
      this.claimCursor.set(stream, cursor);
      // Redis 7 lists entries deleted while pending separately; 6.2 returns them with nil fields.
      const deleted = [
        ...(deletedIds ?? []),
        ...entries.filter(([, f]) => f === null).map(([id]) => id),
      ];
      const live = entries.filter(
        (entry): entry is [string, string[]] =>
          entry[1] !== null && !this.tasks.has(taskKey(stream, entry[0])),
      );
      if (deleted.length > 0) {
        await this.ackDeleted(stream, deleted);
      }
      if (live.length === 0) {
        continue;
      }
      const counts = await this.deliveryCounts(
        stream,
        live.map(([id]) => id),
      );
      for (const [entryId, fields] of live) {
        const deliveryCount = counts.get(entryId);
        if (deliveryCount === undefined) {
          // Acked by its previous owner between the claim and now.
          continue;
        }
        this.log.info(
          {
            event: 'message.claimed',
            worker: this.spec.worker,
            stream,
            entryId,
            deliveryCount,
            consumer: this.consumerName,
          },
          'idle entry claimed for redelivery',
        );
        this.dispatch(stream, eventType, entryId, fields, deliveryCount);
      }
    }
  }

  /**
   * Delivery counts of our own pending entries, straight from the PEL, one
   * exact XPENDING per id (pipelined): a range query with COUNT could stop
   * short at other pending entries of ours and leave claimed ids uncounted.
   * An id missing from the result was acked or taken by another consumer.
   */
  private async deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const commands = this.commands as Redis;
    const pipeline = commands.pipeline();
    for (const id of ids) {
      pipeline.call('XPENDING', stream, this.spec.group, id, id, '1');
    }
    const replies = (await this.onCommands(pipeline.exec())) ?? [];
    const failed = replies.find(([error]) => error)?.[0];
    if (failed) {
      // NOGROUP must reach the read loop, which recreates the group.
      throw failed;
    }
    const counts = new Map<string, number>();
    replies.forEach(([, rows], index) => {
      const row = (rows as Array<[string, string, number, number]> | null)?.[0];
      if (row && row[1] === this.consumerName) {
        counts.set(ids[index] as string, Number(row[3]));
      }
    });
    return counts;
  }

  /** Entries deleted from the stream while pending can never be handled: ack and count them. */
  private async ackDeleted(stream: string, ids: string[]): Promise<void> {
    const commands = this.commands as Redis;
    await this.onCommands(commands.xack(stream, this.spec.group, ...ids));
    for (const entryId of ids) {
      this.options.counters.deadLettered += 1;
      this.options.metrics.deadLetters.inc({ ...this.labels, reason: 'deleted' });
      this.options.metrics.processed.inc({ ...this.labels, outcome: 'dead_letter' });
      this.log.warn(
        { event: 'message.deleted_while_pending', worker: this.spec.worker, stream, entryId },
        'pending entry was deleted from the stream; acknowledged',
      );
    }
  }

  private waitForSlot(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.loopAbort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.slotWaiters.push(done);
      this.loopAbort.signal.addEventListener('abort', done, { once: true });
    });
  }

  private releaseSlot(): void {
    if (this.slotWaiters.length === 0) {
      return;
    }
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) {
      wake();
    }
  }

  // -------------------------------------------------------------- handling

  private dispatch(
    stream: string,
    eventType: EventType,
    entryId: string,
    fields: string[],
    deliveryCount: number,
  ): void {
    // A read or claim that returns after stopReading() is still dispatched:
    // Redis has delivered the entry to this consumer, and leaving it in our
    // PEL would strand it for CLAIM_IDLE_MS. The drain waits for it like any
    // other in-flight entry.
    if (this.drainAbort.signal.aborted) {
      // Past the stop deadline nothing more is committed: it stays pending for another consumer.
      return;
    }
    const key = taskKey(stream, entryId);
    if (this.tasks.has(key)) {
      // Already being handled here (e.g. re-read after a group recreation).
      return;
    }
    const task: Task = {
      key,
      stream,
      eventType,
      entryId,
      fields,
      deliveryCount,
      receivedAt: performance.now(),
      handlerStartedAt: undefined,
      handlerRunning: false,
      timedOut: false,
      expire: undefined,
      onSettled: undefined,
      claimLost: false,
      controller: undefined,
      abortReason: undefined,
    };
    this.tasks.set(key, task);
    this.queueInFlightUpdate();
    try {
      this.handle(task);
    } catch (error) {
      this.onInternalError(task, error);
    }
  }

  /** Frees the entry's slot: the one place a task leaves the task map. */
  private release(task: Task): void {
    this.tasks.delete(task.key);
    this.queueInFlightUpdate();
    this.releaseSlot();
  }

  /** A bug in the runtime itself: counted and logged; the entry stays pending. */
  private onInternalError(task: Task, error: unknown): void {
    this.options.metrics.errors.inc({ ...this.labels, kind: 'internal' });
    this.log.error(
      {
        event: 'message.process_failed',
        worker: this.spec.worker,
        stream: task.stream,
        entryId: task.entryId,
        err: error,
      },
      'entry processing failed unexpectedly; it stays pending',
    );
    this.release(task);
  }

  /**
   * Runs one of the rare paths (dead letter, handler failure or timeout,
   * commit recovery) as ordinary async code, then frees the entry's slot.
   */
  private runSlow(task: Task, work: () => Promise<void>): void {
    work().then(
      () => this.release(task),
      (error: unknown) => this.onInternalError(task, error),
    );
  }

  /** Queued after the first commit attempt failed: retries it with the usual checks. */
  private recoverCommit(
    task: Task,
    writes: ((multi: ChainableCommander) => void) | undefined,
    outcome: 'ok' | 'skipped',
    failed?: { error: unknown },
  ): void {
    this.runSlow(task, async () => {
      if (await this.commit(task, writes, failed)) {
        this.finish(task, outcome);
      }
    });
  }

  /** The in-flight gauge is set once per event-loop turn, not twice per entry. */
  private queueInFlightUpdate(): void {
    if (this.inFlightUpdateQueued) {
      return;
    }
    this.inFlightUpdateQueued = true;
    setImmediate(() => {
      this.inFlightUpdateQueued = false;
      this.inFlightGauge.set(this.tasks.size);
    });
  }

  /**
   * Handles an entry with callbacks instead of async frames: the happy path
   * (handler resolves, commit applied at first attempt) costs the handler's
   * promise and one shared pipeline per batch, nothing more per entry — async
   * functions and their promises were the larger part of the per-entry cost.
   * Anything unusual hands over to the async code (runSlow), which holds the
   * slot until it is done.
   *
   * The handler runs under its timeout (enforced by expireOverdue()). On
   * timeout the entry counts as failed at once, but its slot stays taken
   * until the handler really settles, so concurrency stays a hard bound even
   * with handlers that ignore the signal.
   */
  private handle(task: Task): void {
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(task.fields, this.settings.maxEventBytes);
    } catch (error) {
      if (this.replayedForOthers(task, replayTarget(task.fields))) {
        return;
      }
      this.runSlow(task, () => this.deadLetter(task, 'malformed', errorText(error)));
      return;
    }
    if (envelope.replayfor !== undefined && this.replayedForOthers(task, envelope.replayfor)) {
      return;
    }
    if (task.deliveryCount > this.settings.maxDeliveries) {
      // Earlier deliveries never reported back (their consumer died mid-handler).
      const reason = `delivered ${task.deliveryCount} times without completing (MAX_DELIVERIES ${this.settings.maxDeliveries})`;
      this.runSlow(task, () => this.deadLetter(task, 'max_deliveries', reason));
      return;
    }
    const message: InboundMessage = {
      stream: task.stream,
      entryId: task.entryId,
      eventType: task.eventType,
      envelope,
      deliveryCount: task.deliveryCount,
      get signal() {
        return taskSignal(task);
      },
    };
    task.handlerStartedAt = Date.now();
    task.handlerRunning = true;
    let running: Promise<HandlerResult>;
    try {
      running = Promise.resolve(this.spec.handler(message));
    } catch (error) {
      // A synchronous throw still counts as a handler failure.
      const failure = error as Error;
      running = Promise.reject(failure);
    }
    let timedOut = false;
    task.expire = (error) => {
      timedOut = true;
      // Hold the slot until the handler gives up; its own result no longer matters.
      this.runSlow(task, async () => {
        await this.onHandlerError(task, error);
        if (task.handlerRunning) {
          await new Promise<void>((resolve) => {
            task.onSettled = resolve;
          });
        }
      });
    };
    running.then(
      (result) => {
        this.handlerSettled(task);
        if (!timedOut) {
          try {
            this.onResult(task, envelope, result);
          } catch (error) {
            this.onInternalError(task, error);
          }
        }
      },
      (error: unknown) => {
        this.handlerSettled(task);
        if (!timedOut) {
          this.runSlow(task, () => this.onHandlerError(task, error));
        }
      },
    );
  }

  /**
   * An entry `dlq replay` re-drove for another group reading the same
   * stream: acknowledged here without running the handler.
   */
  private replayedForOthers(task: Task, target: string | undefined): boolean {
    if (target === undefined || target === this.spec.group) {
      return false;
    }
    this.log.debug(
      {
        event: 'message.replay_skipped',
        worker: this.spec.worker,
        stream: task.stream,
        entryId: task.entryId,
        replayFor: target,
      },
      'entry was replayed for another consumer group; acknowledged without handling',
    );
    this.commitFirst(task, undefined, 'skipped');
    return true;
  }

  private handlerSettled(task: Task): void {
    task.handlerRunning = false;
    task.timedOut = false;
    task.expire = undefined;
    task.onSettled?.();
  }

  private onResult(task: Task, envelope: Envelope, result: HandlerResult): void {
    if (result.outcome === 'skipped') {
      this.commitFirst(task, undefined, 'skipped');
      return;
    }
    const outputs = result.outputs;
    const fieldLists: string[][] = [];
    for (let i = 0; i < outputs.length; i += 1) {
      const output = outputs[i] as OutboundEvent;
      const fields = encodeOutputEnvelope(output, { worker: this.spec.worker, cause: envelope });
      if (mayExceedBytes(fields, this.settings.maxEventBytes)) {
        const size = entryBytes(fields);
        const reason = `output ${output.type} is ${size} bytes, over MAX_EVENT_BYTES (${this.settings.maxEventBytes})`;
        this.runSlow(task, () => this.deadLetter(task, 'invalid', reason));
        return;
      }
      fieldLists.push(fields);
    }
    this.commitFirst(
      task,
      (multi) => {
        for (let i = 0; i < fieldLists.length; i += 1) {
          this.addTo(
            multi,
            this.topology.stream((outputs[i] as OutboundEvent).type),
            fieldLists[i] as string[],
          );
        }
      },
      'ok',
    );
  }

  /**
   * First commit attempt of a handled entry, without a promise: queued into
   * the shared pipeline, finished in its callback. A lost or refused commit,
   * a lost claim or a connection not ready go to commit(), which knows how
   * to check and retry.
   */
  private commitFirst(
    task: Task,
    writes: ((multi: ChainableCommander) => void) | undefined,
    outcome: 'ok' | 'skipped',
  ): void {
    if (task.claimLost || (this.commands as Redis).status !== 'ready') {
      this.recoverCommit(task, writes, outcome);
      return;
    }
    this.queueCommit(task, writes, (applied, error) => {
      if (!applied) {
        // Claim lost while queued: nothing was sent; commit() abandons it.
        const failed = error instanceof ClaimLostError ? undefined : { error };
        this.recoverCommit(task, writes, outcome, failed);
        return;
      }
      try {
        this.onApplied(task, error);
        this.finish(task, outcome);
      } catch (bug) {
        this.onInternalError(task, bug);
        return;
      }
      this.release(task);
    });
  }

  /** Fails every handler past its timeout; runs every timeoutSweepMs. */
  private expireOverdue(): void {
    const startedBefore = Date.now() - this.spec.handlerTimeoutMs;
    for (const task of this.tasks.values()) {
      if (
        task.expire !== undefined &&
        !task.timedOut &&
        task.handlerStartedAt !== undefined &&
        task.handlerStartedAt <= startedBefore
      ) {
        const error = new HandlerTimeoutError(
          `handler did not finish within ${this.spec.handlerTimeoutMs}ms`,
        );
        task.timedOut = true;
        const expire = task.expire;
        task.expire = undefined;
        abortTask(task, error);
        expire(error);
      }
    }
  }

  private async onHandlerError(task: Task, error: unknown): Promise<void> {
    if (this.drainAbort.signal.aborted) {
      // Aborted by the stop deadline: not the entry's fault; it stays pending.
      return;
    }
    const worker = this.spec.worker;
    if (error instanceof InvalidEntryError) {
      await this.deadLetter(task, 'invalid', errorText(error));
      return;
    }
    const timedOut = error instanceof HandlerTimeoutError;
    this.options.counters.failed += 1;
    this.options.metrics.errors.inc({ ...this.labels, kind: timedOut ? 'timeout' : 'handler' });
    if (task.deliveryCount >= this.settings.maxDeliveries) {
      await this.deadLetter(task, 'max_deliveries', errorText(error));
      return;
    }
    this.options.metrics.processed.inc({ ...this.labels, outcome: 'retry' });
    this.log.warn(
      {
        event: timedOut ? 'message.timed_out' : 'message.failed',
        worker,
        stream: task.stream,
        entryId: task.entryId,
        deliveryCount: task.deliveryCount,
        maxDeliveries: this.settings.maxDeliveries,
        err: error,
      },
      'handler failed; entry stays pending for redelivery',
    );
  }

  private finish(task: Task, outcome: 'ok' | 'skipped'): void {
    this.options.counters.processed += 1;
    (outcome === 'ok' ? this.okCount : this.skippedCount).inc();
    this.latency.observe((performance.now() - task.receivedAt) / 1000);
    this.log.debug(
      {
        event: 'message.committed',
        worker: this.spec.worker,
        stream: task.stream,
        entryId: task.entryId,
        outcome,
      },
      'entry committed',
    );
  }

  private async deadLetter(task: Task, reason: DeadLetterReason, error: string): Promise<void> {
    const fields = encodeDeadLetter({
      stream: task.stream,
      id: task.entryId,
      group: this.spec.group,
      worker: this.spec.worker,
      reason,
      error: redactText(error),
      deliveryCount: task.deliveryCount,
      fields: task.fields,
      time: new Date().toISOString(),
    });
    // Never trimmed: STREAM_MAXLEN must not evict a poison entry before an operator sees it.
    const committed = await this.commit(task, (multi) => {
      multi.xadd(this.topology.deadLetterStream, '*', ...fields);
    });
    if (!committed) {
      return;
    }
    this.options.counters.deadLettered += 1;
    this.options.metrics.deadLetters.inc({ ...this.labels, reason });
    this.options.metrics.processed.inc({ ...this.labels, outcome: 'dead_letter' });
    this.log.warn(
      {
        event: 'message.dead_lettered',
        worker: this.spec.worker,
        stream: task.stream,
        entryId: task.entryId,
        reason,
        deliveryCount: task.deliveryCount,
        error: redactText(error).slice(0, 200),
      },
      'entry moved to the dead-letter stream',
    );
  }

  private addTo(multi: ChainableCommander, stream: string, fields: string[]): void {
    if (this.settings.maxLen > 0) {
      multi.xadd(stream, 'MAXLEN', '~', this.settings.maxLen, '*', ...fields);
    } else {
      multi.xadd(stream, '*', ...fields);
    }
  }

  // ----------------------------------------------------------------- commit

  /**
   * Writes `writes` and the XACK of the entry in one MULTI. Retries until it
   * is known to be applied, the entry was taken over by another consumer, or
   * the stop deadline passes (then it stays pending). Never applies twice:
   * after a lost reply it first asks XPENDING whether the entry is still ours.
   * An entry the keep-alive found taken by another consumer is not committed.
   * The first attempt does not ask XPENDING (a round trip per entry): a steal
   * after the last keep-alive round can still lead to a second commit, which
   * at-least-once allows.
   *
   * `failed` is a first attempt already made by commitFirst() and its error:
   * handled exactly as if this loop had made it.
   */
  private async commit(
    task: Task,
    writes: ((multi: ChainableCommander) => void) | undefined,
    failed?: { error: unknown },
  ): Promise<boolean> {
    const commands = this.commands as Redis;
    const signal = this.drainAbort.signal;
    for (let attempt = 1; ; attempt += 1) {
      const replayed = attempt === 1 ? failed : undefined;
      if (!replayed && task.claimLost) {
        // Another consumer owns the entry now and will commit it: writing our
        // outputs or acking it here would publish it twice.
        this.log.warn(
          {
            event: 'message.commit_abandoned',
            worker: this.spec.worker,
            stream: task.stream,
            entryId: task.entryId,
          },
          'entry was claimed by another consumer before it could be committed',
        );
        return false;
      }
      try {
        if (replayed) {
          throw replayed.error;
        }
        if (commands.status !== 'ready') {
          await waitReady(commands, signal);
        }
        if (attempt > 1) {
          const owner = await this.pendingOwner(task);
          if (owner === undefined) {
            // Not pending any more: the earlier attempt was applied (MULTI is atomic).
            this.noteCommitted(task);
            return true;
          }
          if (owner !== this.consumerName) {
            this.log.warn(
              {
                event: 'message.commit_abandoned',
                worker: this.spec.worker,
                stream: task.stream,
                entryId: task.entryId,
                owner,
              },
              'entry was claimed by another consumer before it could be committed',
            );
            return false;
          }
        }
        const failedInside = await this.execAtomic(task, writes);
        this.onApplied(task, failedInside);
        return true;
      } catch (error) {
        if (signal.aborted) {
          this.log.warn(
            {
              event: 'message.commit_abandoned',
              worker: this.spec.worker,
              stream: task.stream,
              entryId: task.entryId,
            },
            'stop deadline passed before the commit; entry stays pending',
          );
          return false;
        }
        if (error instanceof ClaimLostError) {
          // Not sent; the next round abandons it.
          continue;
        }
        this.options.metrics.errors.inc({ ...this.labels, kind: 'commit' });
        this.log.warn(
          {
            event: 'message.commit_retry',
            worker: this.spec.worker,
            stream: task.stream,
            entryId: task.entryId,
            attempt,
            err: error,
          },
          'commit failed; checking and retrying',
        );
        try {
          await sleep(reconnectDelay(attempt), signal);
        } catch {
          // Deadline: the next iteration gives up.
        }
      }
    }
  }

  /** After an applied commit: reports a command that failed inside it, moves the watermark. */
  private onApplied(task: Task, failedInside: unknown): void {
    if (failedInside) {
      // A runtime error inside MULTI does not roll the rest back; it is a
      // wiring bug (e.g. a key of the wrong type), not worth retrying.
      this.options.metrics.errors.inc({ ...this.labels, kind: 'commit' });
      this.log.error(
        {
          event: 'message.commit_partial',
          worker: this.spec.worker,
          stream: task.stream,
          entryId: task.entryId,
          err: failedInside,
        },
        'a command inside the commit failed',
      );
    }
    this.noteCommitted(task);
  }

  /**
   * One entry's commit in a MULTI of its own, as a promise, for the async
   * paths (retries, dead letters): resolves once applied, with the command
   * that failed inside the MULTI if any. Not shared, so an entry whose
   * writes Redis refuses outright (EXECABORT, e.g. an ACL denying the
   * dead-letter stream) never holds back the others' commits.
   */
  private execAtomic(task: Task, writes: CommitWrites | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.sendCommits([
        {
          task,
          writes,
          done: (applied, error) => {
            if (applied) {
              resolve(error);
            } else {
              const failure = error as Error;
              reject(failure);
            }
          },
        },
      ]);
    });
  }

  /**
   * Queues the entry's writes and its XACK for the next flush. All commits
   * queued while the same microtask queue drains (a whole read's worth when
   * handlers answer at once, as after one reply from Redis) go out in one
   * MULTI…EXEC: each entry's outputs
   * and ack are still applied together or not at all (the whole batch is),
   * and the batch costs one round trip, one XACK per stream and two framing
   * commands instead of a MULTI, an XACK and an EXEC per entry. If Redis
   * refuses the whole MULTI, each entry retries in a MULTI of its own.
   */
  private queueCommit(task: Task, writes: CommitWrites | undefined, done: CommitDone): void {
    this.commitQueue.push({ task, writes, done });
    if (this.commitQueue.length === 1) {
      // setImmediate gathers the commits of every callback in this poll
      // phase (handlers waking on HTTP replies or timers finish one callback
      // each); the read loop flushes earlier, just before it reads again.
      setImmediate(() => this.flushCommits());
    }
  }

  /**
   * Sends what is queued. Also called by the read loop right before each
   * XREADGROUP, so the commits of the entries it just handed out are
   * written first instead of waiting for setImmediate behind the read and
   * the other sockets' callbacks (a tenth of a millisecond per stage at
   * low load).
   */
  private flushCommits(): void {
    if (this.commitQueue.length === 0) {
      return;
    }
    const batch = this.commitQueue;
    this.commitQueue = [];
    this.sendCommits(batch);
  }

  /**
   * Sends `batch` as one MULTI…EXEC and calls each entry's `done` with the
   * outcome. Entries whose claim was lost, or all of them once the stop
   * deadline has passed, are not sent. When Redis refuses some commands at
   * queue time (NOPERM, OOM…) it discards the whole MULTI (EXECABORT), so
   * nothing was applied: the refused entries fail with their own error and
   * the others are sent again at once in a new MULTI.
   */
  private sendCommits(queued: QueuedCommit[]): void {
    if (this.drainAbort.signal.aborted) {
      const error = new StopDeadlineError('stop deadline reached before the commit was sent');
      for (const item of queued) {
        item.done(false, error);
      }
      return;
    }
    const batch: QueuedCommit[] = [];
    for (const item of queued) {
      if (item.task.claimLost) {
        item.done(false, new ClaimLostError('entry was claimed by another consumer'));
      } else {
        batch.push(item);
      }
    }
    if (batch.length === 0) {
      return;
    }
    const commands = this.commands as Redis;
    const pipeline = commands.pipeline();
    pipeline.call('MULTI');
    // Per entry: where its writes start in the pipeline, how many there
    // are, and which of the acked streams is its own. Arrays, not Maps: a
    // worker reads one to three streams and this runs for every batch.
    const firsts: number[] = [];
    const written: number[] = [];
    const streamOf: number[] = [];
    const ackStreams: string[] = [];
    const ackIds: string[][] = [];
    try {
      for (const item of batch) {
        const before = pipeline.length;
        item.writes?.(pipeline);
        firsts.push(before);
        written.push(pipeline.length - before);
        let index = ackStreams.indexOf(item.task.stream);
        if (index < 0) {
          index = ackStreams.push(item.task.stream) - 1;
          ackIds.push([]);
        }
        streamOf.push(index);
        (ackIds[index] as string[]).push(item.task.entryId);
      }
    } catch (error) {
      // A bug in a writes callback: nothing is sent (a half-built MULTI could
      // write outputs without their ack); every entry takes the retry path.
      for (const item of batch) {
        item.done(false, error);
      }
      return;
    }
    // Per acked stream, where its XACK is in the pipeline.
    const ackAt: number[] = [];
    ackStreams.forEach((stream, index) => {
      ackAt.push(pipeline.length);
      pipeline.xack(stream, this.spec.group, ...(ackIds[index] as string[]));
    });
    const ackOf = (index: number): number => ackAt[streamOf[index] as number] as number;
    pipeline.call('EXEC');
    const execIndex = pipeline.length - 1;
    const fail = (error: unknown): void => {
      for (const item of batch) {
        item.done(false, error);
      }
    };
    this.onCommands(pipeline.exec()).then((replies) => {
      const exec = replies?.[execIndex];
      if (!replies || !exec) {
        fail(new ConnectionLostError('no EXEC reply'));
        return;
      }
      const [execError, results] = exec;
      if (execError) {
        // Only Redis's own EXECABORT proves nothing was applied. Any other
        // error (the connection lost after EXEC was sent) leaves it unknown:
        // every entry goes through the XPENDING check of commit().
        if (execError.message.startsWith('EXECABORT')) {
          this.onAborted(batch, replies, firsts, written, ackOf, execError);
        } else {
          fail(execError);
        }
        return;
      }
      if (!Array.isArray(results)) {
        fail(new ConnectionLostError('EXEC returned no reply'));
        return;
      }
      // EXEC's array lines up with the pipeline without its MULTI.
      for (let index = 0; index < batch.length; index += 1) {
        const item = batch[index] as QueuedCommit;
        const first = (firsts[index] as number) - 1;
        let failedInside: unknown;
        for (let at = first; at < first + (written[index] as number); at += 1) {
          const reply: unknown = results[at];
          if (reply instanceof Error) {
            failedInside = reply;
            break;
          }
        }
        if (failedInside === undefined) {
          const ack: unknown = results[ackOf(index) - 1];
          failedInside = ack instanceof Error ? ack : undefined;
        }
        item.done(true, failedInside);
      }
    }, fail);
  }

  /**
   * The shared MULTI was discarded: fails the entries whose commands Redis
   * refused (with that refusal, not EXECABORT) and sends the rest again.
   */
  private onAborted(
    batch: QueuedCommit[],
    replies: Array<[Error | null, unknown]>,
    firsts: number[],
    written: number[],
    ackOf: (index: number) => number,
    execError: Error,
  ): void {
    const refusal = (from: number, count: number): Error | undefined => {
      for (let at = from; at < from + count; at += 1) {
        const error = replies[at]?.[0];
        if (error) {
          return error;
        }
      }
      return undefined;
    };
    const retry: QueuedCommit[] = [];
    batch.forEach((item, index) => {
      const refused =
        refusal(firsts[index] as number, written[index] as number) ?? refusal(ackOf(index), 1);
      if (refused) {
        item.done(false, refused);
      } else {
        retry.push(item);
      }
    });
    if (retry.length === batch.length) {
      // Nothing to single out (e.g. MULTI itself refused): all fail alike.
      for (const item of retry) {
        item.done(false, execError);
      }
    } else if (retry.length > 0) {
      this.sendCommits(retry);
    }
  }

  /** Owner of the entry in the group's PEL, or undefined when it is no longer pending. */
  private async pendingOwner(task: Task): Promise<string | undefined> {
    const commands = this.commands as Redis;
    const rows = (await this.onCommands(
      commands.call('XPENDING', task.stream, this.spec.group, task.entryId, task.entryId, '1'),
    )) as Array<[string, string, number, number]>;
    return rows[0]?.[1];
  }

  private noteCommitted(task: Task): void {
    const watermarks = this.watermarks;
    const last = watermarks.get(task.stream);
    if (last === undefined || compareStreamIds(task.entryId, last) > 0) {
      watermarks.set(task.stream, task.entryId);
    }
  }

  // ------------------------------------------------------- groups, liveness

  private async createGroup(stream: string, fromId: string): Promise<boolean> {
    const commands = this.commands as Redis;
    try {
      await this.onCommands(commands.xgroup('CREATE', stream, this.spec.group, fromId, 'MKSTREAM'));
      return true;
    } catch (error) {
      if (isBusyGroupError(error)) {
        return false;
      }
      throw error;
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
  private async recreateGroups(): Promise<void> {
    const commands = this.commands as Redis;
    for (const { stream } of this.spec.streams) {
      try {
        const watermark = this.watermarks.get(stream);
        let fromId = watermark;
        if (fromId === undefined) {
          const length = await this.onCommands(commands.xlen(stream));
          fromId = length > 0 ? '$' : '0';
        }
        if (!(await this.createGroup(stream, fromId))) {
          continue;
        }
        this.claimCursor.delete(stream);
        if (watermark === undefined && fromId === '$') {
          this.log.error(
            {
              event: 'stream.group_recreated',
              worker: this.spec.worker,
              stream,
              group: this.spec.group,
              startId: fromId,
            },
            'consumer group was missing and no committed id is known; recreated at $ so history is not replayed. Entries added while the group was missing were skipped: use XGROUP SETID or replay them if they matter',
          );
        } else {
          this.log.warn(
            {
              event: 'group.recreated',
              worker: this.spec.worker,
              stream,
              group: this.spec.group,
              fromId,
            },
            watermark === undefined
              ? 'consumer group and its stream were missing; recreated from the start'
              : 'consumer group was missing; recreated from the last committed id',
          );
        }
      } catch (error) {
        this.options.metrics.errors.inc({ ...this.labels, kind: 'redis' });
        this.log.warn(
          { event: 'group.recreate_failed', worker: this.spec.worker, stream, err: error },
          'could not recreate the consumer group',
        );
      }
    }
  }

  /**
   * Resets the idle time of entries whose handler has run for a while, so
   * XAUTOCLAIM elsewhere does not steal them. JUSTID leaves the delivery
   * count alone. A timed-out handler is not kept alive: its entry is free to go.
   * An entry another consumer took meanwhile is left to it (KEEP_ALIVE_SCRIPT)
   * and its keep-alive stops.
   */
  private async keepAlive(): Promise<void> {
    const commands = this.commands;
    if (!commands || commands.status !== 'ready') {
      return;
    }
    const threshold = Date.now() - this.keepAliveIntervalMs;
    const byStream = new Map<string, Task[]>();
    for (const task of this.tasks.values()) {
      if (
        task.handlerRunning &&
        !task.timedOut &&
        !task.claimLost &&
        task.handlerStartedAt !== undefined &&
        task.handlerStartedAt <= threshold
      ) {
        byStream.set(task.stream, [...(byStream.get(task.stream) ?? []), task]);
      }
    }
    for (const [stream, tasks] of byStream) {
      try {
        const lost = (await this.onCommands(
          commands.call(
            'EVAL',
            KEEP_ALIVE_SCRIPT,
            '1',
            stream,
            this.spec.group,
            this.consumerName,
            ...tasks.map((t) => t.entryId),
          ),
        )) as string[] | null;
        for (const entryId of lost ?? []) {
          const task = tasks.find((t) => t.entryId === entryId);
          if (!task) {
            continue;
          }
          task.claimLost = true;
          this.log.warn(
            { event: 'message.claim_lost', worker: this.spec.worker, stream, entryId },
            'entry was claimed by another consumer while its handler ran; its result will not be committed here',
          );
        }
      } catch (error) {
        this.options.metrics.errors.inc({ ...this.labels, kind: 'redis' });
        this.log.debug(
          { event: 'message.keepalive_failed', worker: this.spec.worker, stream, err: error },
          'claim keep-alive failed',
        );
      }
    }
  }

  // ------------------------------------------------------------------- stop

  private async drain(deadline: number): Promise<void> {
    const worker = this.spec.worker;
    const startedAt = Date.now();
    // Closing takes round trips too: reserve a slice of the time left for it
    // so the whole stop, not just the wait for handlers, ends by `deadline`
    // (the supervisor reports a stop that overruns as a hang).
    const closeBudget = Math.min(MAX_CLOSE_BUDGET_MS, Math.floor((deadline - startedAt) / 4));
    const tasksDeadline = deadline - Math.max(0, closeBudget);
    this.stopReading();
    // The loop may be inside a claim round on the command connection.
    await settledWithin(this.runLoop, tasksDeadline - Date.now());
    const pending = [...this.tasks.values()];
    if (pending.length > 0) {
      this.log.info(
        { event: 'consumer.draining', worker, inFlight: pending.length },
        'waiting for in-flight handlers',
      );
      await this.waitForTasks(tasksDeadline);
    }
    const left = [...this.tasks.values()];
    this.drainAbort.abort(new StopDeadlineError('stop deadline reached'));
    for (const task of left) {
      abortTask(task, new StopDeadlineError('stop deadline reached'));
    }
    if (left.length > 0) {
      this.log.warn(
        {
          event: 'consumer.drain_timeout',
          worker,
          leftPending: left.length,
          entryIds: left.map((t) => t.entryId),
        },
        'stop deadline reached; unfinished entries stay pending for another consumer',
      );
    }
    clearInterval(this.keepAliveTimer);
    clearInterval(this.timeoutTimer);
    await this.closeCommands(left.length === 0, deadline);
    this.options.metrics.inFlight.set(this.labels, 0);
    this.log.info(
      { event: 'consumer.stopped', worker, drainMs: Date.now() - startedAt },
      'stream consumer stopped',
    );
  }

  private async waitForTasks(deadline: number): Promise<void> {
    while (this.tasks.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.slotWaiters.push(done);
      });
    }
  }

  /**
   * Removes this consumer from its groups when it owns nothing (so restarts do
   * not pile up dead consumer names), then closes both connections, all by
   * `deadline`: the clean-up is skipped when time is short, and the command
   * connection is dropped rather than QUIT when there is no time for a reply.
   */
  private async closeCommands(drained: boolean, deadline: number): Promise<void> {
    const commands = this.commands;
    if (!commands) {
      return;
    }
    // Timers fire late by a few ms and the socket's end takes a tick: aim a little early.
    const left = (): number => deadline - CLOSE_SLACK_MS - Date.now();
    if (drained && commands.status === 'ready' && left() >= MIN_CLEANUP_MS) {
      try {
        // Leave time for QUIT after the clean-up.
        const budget = Math.min(1000, Math.floor(left() / 2));
        const pipeline = commands.pipeline();
        for (const { stream } of this.spec.streams) {
          pipeline.call('XPENDING', stream, this.spec.group, '-', '+', '1', this.consumerName);
        }
        const replies = (await guard(commands, pipeline.exec(), budget)) ?? [];
        const idle = this.spec.streams.filter(
          (_, i) => !replies[i]?.[0] && (replies[i]?.[1] as unknown[] | undefined)?.length === 0,
        );
        if (idle.length > 0 && left() >= MIN_CLEANUP_MS / 2) {
          // DELCONSUMER drops the consumer's pending entries too: only where there are none.
          const dels = commands.pipeline();
          for (const { stream } of idle) {
            dels.xgroup('DELCONSUMER', stream, this.spec.group, this.consumerName);
          }
          await guard(commands, dels.exec(), Math.min(1000, Math.floor(left() / 2)));
        }
      } catch {
        // Best effort: a leftover idle consumer name is harmless.
      }
    }
    const quitWithin = Math.min(1000, left());
    if (commands.status === 'ready' && quitWithin >= MIN_QUIT_MS) {
      try {
        await guard(commands, commands.quit(), quitWithin);
      } catch {
        commands.disconnect();
      }
    } else {
      commands.disconnect();
    }
    if (this.blocking && this.blocking.status !== 'end') {
      // Normally closed by endReads() already; not when the deadline came first.
      this.blocking.disconnect();
    }
    await Promise.all(
      [commands, this.blocking]
        .filter((c): c is Redis => c !== undefined)
        .map((c) => untilEnded(c, Math.min(1000, left()))),
    );
  }
}

/** Waits for `promise` to settle, but no longer than `ms`; never rejects. */
async function settledWithin(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!promise) {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}

/** Resolves once ioredis has finished closing the connection (or after `ms`). */
function untilEnded(connection: Redis, ms: number): Promise<void> {
  if (connection.status === 'end' || ms <= 0) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    connection.once('end', done);
    function done(): void {
      clearTimeout(timer);
      connection.off('end', done);
      resolve();
    }
  });
}

function taskKey(stream: string, entryId: string): string {
  return `${stream}\u0000${entryId}`;
}

function errorText(error: unknown): string {
  if (error instanceof InvalidEntryError) {
    // By contract its message is the reason itself.
    return error.message;
  }
  if (error instanceof Error) {
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  }
  return String(error);
}
