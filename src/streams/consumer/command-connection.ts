import type { RedisClient } from '../../redis/connection-factory';
import { isCluster, nodeKey } from '../../redis/connection-factory';
import type { ConsumerLogger } from './contracts';
import { ReplyTimeoutError, guard, untilEnded, waitReady } from './redis-wait';

/** How long one non-blocking command may take before the connection is presumed dead. */
export const COMMAND_TIMEOUT_MS = 10_000;
/** Below this much time left, the connection is dropped instead of QUIT. */
const MIN_QUIT_MS = 50;

/** The command connection as the parts that send commands on it see it. */
export interface Commands {
  /** Builds commands and pipelines; send them through `run()`. */
  readonly client: RedisClient;
  readonly ready: boolean;
  /** The command's reply under the reply timeout (see CommandConnection). */
  run<T>(command: Promise<T>, timeoutMs?: number): Promise<T>;
  /** The command's reply within `timeoutMs`, without treating a timeout as a dead connection. */
  within<T>(command: Promise<T>, timeoutMs: number): Promise<T>;
  waitReady(signal: AbortSignal): Promise<void>;
}

/**
 * The connection every non-blocking command of a consumer goes over (claims,
 * commits, keep-alives, group creation, CLIENT UNBLOCK). Each command runs
 * under a reply timeout. A timeout with the socket still open means a
 * half-open connection (TCP keep-alive takes far longer to notice): it is
 * dropped and reopened at once, and the consumer reports itself unhealthy
 * until a reply arrives.
 */
export class CommandConnection implements Commands {
  /** Set when a command got no reply in time, cleared by the next reply: a half-open connection. */
  private unanswered = false;

  constructor(
    readonly client: RedisClient,
    readonly timeoutMs: number,
    private readonly log: ConsumerLogger,
    private readonly worker: string,
    /** While stopping, a timeout is expected (the stop has a deadline): no reconnect. */
    private readonly stopping: () => boolean,
  ) {
    // One 'close' listener per in-flight command (see guard()); the bound is concurrency.
    client.setMaxListeners(0);
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** True from a reply timeout until the next reply. */
  get timingOut(): boolean {
    return this.unanswered;
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  async run<T>(command: Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const client = this.client;
    try {
      const reply = await guard(client, command, timeoutMs);
      this.unanswered = false;
      return reply;
    } catch (error) {
      if (error instanceof ReplyTimeoutError && !this.stopping()) {
        if (!this.unanswered) {
          this.log.warn(
            { event: 'consumer.command_timeout', worker: this.worker, timeoutMs },
            'a command to Redis got no reply in time; reconnecting',
          );
        }
        this.unanswered = true;
        if (client.status === 'ready') {
          client.disconnect(true);
        }
      }
      throw error;
    }
  }

  within<T>(command: Promise<T>, timeoutMs: number): Promise<T> {
    return guard(this.client, command, timeoutMs);
  }

  waitReady(signal: AbortSignal): Promise<void> {
    return waitReady(this.client, signal);
  }

  /**
   * CLIENT UNBLOCK for another connection's blocked read (TIMEOUT mode: it
   * returns nil). Undefined when this connection is not ready to carry it.
   */
  unblock(clientId: number, timeoutMs: number, node?: string): Promise<unknown> | undefined {
    if (!this.ready) {
      return undefined;
    }
    const client = this.client;
    if (isCluster(client)) {
      // Client ids are per node: the UNBLOCK goes to the node the read blocks on.
      const target = client.nodes('master').find((candidate) => nodeKey(candidate) === node);
      return target?.status === 'ready'
        ? guard(target, target.client('UNBLOCK', clientId), timeoutMs)
        : undefined;
    }
    return guard(client, client.client('UNBLOCK', clientId), timeoutMs);
  }

  /** QUIT within `timeoutMs`, or drops the connection when there is no time for a reply. */
  async quit(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (client.status === 'ready' && timeoutMs >= MIN_QUIT_MS) {
      try {
        await guard(client, client.quit(), timeoutMs);
      } catch {
        client.disconnect();
      }
    } else {
      client.disconnect();
    }
  }

  disconnect(): void {
    this.client.disconnect();
  }

  untilEnded(ms: number): Promise<void> {
    return untilEnded(this.client, ms);
  }
}
