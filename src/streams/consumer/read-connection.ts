import type { RedisClient } from '../../redis/connection-factory';
import type { Cluster } from 'ioredis';
import { slotOwner } from '../../redis/cluster-nodes';
import { isCluster, nodeKey } from '../../redis/connection-factory';
import type { ConsumerLogger } from './contracts';
import {
  ConnectionLostError,
  ReplyTimeoutError,
  guard,
  settledWithin,
  untilEnded,
  waitReady,
} from './redis-wait';

/** A blocking read is given this much longer than its BLOCK before it is presumed lost. */
const READ_GRACE_MS = 5_000;
/**
 * After stopReading(), how long the blocked read may take to return once
 * CLIENT UNBLOCK was sent before its connection is dropped anyway.
 */
const UNBLOCK_WAIT_MS = 500;
/** CLIENT UNBLOCK found no blocked read yet (still on the wire): asked again after this. */
const UNBLOCK_RETRY_MS = 20;

/** Sends CLIENT UNBLOCK on another connection: the blocked one cannot carry it. */
export interface Unblocker {
  /**
   * Undefined when that connection is not ready to carry it. `node`: in
   * Cluster mode, the `host:port` the read blocks on (client ids are per node).
   */
  unblock(clientId: number, timeoutMs: number, node?: string): Promise<unknown> | undefined;
}

/**
 * The dedicated connection XREADGROUP blocks on: a blocked read holds its
 * connection for every other command. Knows its own CLIENT ID so that a
 * stop can unblock the read instead of cutting it.
 */
export class ReadConnection {
  /**
   * CLIENT ID since the last (re)connect; unset while down, null when Redis
   * refused to tell (e.g. an ACL).
   */
  private clientId: number | null | undefined;
  /** Cluster mode: `host:port` of the node whose CLIENT ID that is (the slot's master). */
  private idNode: string | undefined;
  /** Settles (never rejects) when the XREADGROUP in flight has returned or failed. */
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly identifyTimeoutMs: number,
    private readonly log: ConsumerLogger,
    private readonly worker: string,
    /**
     * A key the reads touch: in Cluster mode the read blocks on the node that
     * owns its slot, which is where CLIENT ID must be asked.
     */
    private readonly slotKey: string,
  ) {
    client.setMaxListeners(0);
    // A reconnect gets a new client id; the read loop asks for it again before reading.
    client.on('close', () => {
      this.clientId = undefined;
    });
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** False until identify() has run since the last (re)connect. */
  get identified(): boolean {
    return this.clientId !== undefined;
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  waitReady(signal: AbortSignal): Promise<void> {
    return waitReady(this.client, signal);
  }

  /**
   * Learns the connection's CLIENT ID, which end() needs to unblock its
   * read. Asked on this connection itself before it blocks, so the reply
   * never waits behind a blocked read.
   */
  async identify(): Promise<void> {
    const client = this.client;
    try {
      if (isCluster(client)) {
        await this.identifyOnSlotOwner(client);
        return;
      }
      this.clientId = await guard(client, client.client('ID'), this.identifyTimeoutMs);
    } catch (error) {
      if (!(error instanceof ConnectionLostError)) {
        // Refused by Redis (e.g. an ACL without CLIENT): reading works
        // without it; only end() falls back to cutting the connection.
        this.clientId = null;
        this.log.warn(
          { event: 'consumer.client_id_unavailable', worker: this.worker, err: error },
          'CLIENT ID refused; a stop will cut the blocked read instead of unblocking it',
        );
        return;
      }
      if (error instanceof ReplyTimeoutError && client.status === 'ready') {
        // Half-open, as in read(): reconnect.
        client.disconnect(true);
      }
      throw error;
    }
  }

  /**
   * Cluster mode: the Cluster client's own connection to the slot's master
   * carries the read, so its id is asked there. A failover replaces that
   * node (or its connection): its 'close' makes the next read ask again. A
   * read redirected elsewhere meanwhile is not unblocked but cut (end()).
   */
  private async identifyOnSlotOwner(cluster: Cluster): Promise<void> {
    const node = slotOwner(cluster, this.slotKey);
    if (!node) {
      // The slot's master is not known yet (the Cluster client learns it from
      // the next MOVED or slots refresh): read anyway; this is asked again
      // before the next read, and a stop meanwhile cuts the read.
      return;
    }
    const id = await guard(node, node.client('ID'), this.identifyTimeoutMs);
    this.clientId = id;
    this.idNode = nodeKey(node);
    node.once('close', () => {
      if (this.idNode === nodeKey(node)) {
        this.clientId = undefined;
      }
    });
  }

  /** XREADGROUP with `args`, given its BLOCK and a grace period to reply; `stopped` once reading stops. */
  async read(
    args: Array<string | number>,
    blockMs: number,
    stopped: AbortSignal,
  ): Promise<unknown> {
    const client = this.client;
    const command = client.callBuffer('XREADGROUP', args).then(decodeInPlace);
    const read = guard(client, command, blockMs + READ_GRACE_MS).catch((error: unknown) => {
      if (error instanceof ReplyTimeoutError && client.status === 'ready' && !stopped.aborted) {
        // No reply although the socket looks fine: a half-open connection.
        // Reconnect; the lost read's entries (if any) are reclaimed when idle.
        client.disconnect(true);
      }
      throw error;
    });
    const inFlight = read.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight = inFlight;
    try {
      return await read;
    } finally {
      if (this.inFlight === inFlight) {
        this.inFlight = undefined;
      }
    }
  }

  /**
   * Ends the blocked XREADGROUP, then closes the connection. CLIENT UNBLOCK
   * (TIMEOUT mode) makes it return nil with nothing delivered; a read Redis
   * had already served still brings its entries, which are then handled.
   * Cutting the connection instead would strand a served read's entries in
   * our PEL until CLAIM_IDLE_MS: that is only the fallback when the command
   * connection is down or the read does not return within UNBLOCK_WAIT_MS.
   */
  async end(unblocker: Unblocker): Promise<void> {
    const read = this.inFlight;
    if (read && !(await this.unblock(read, unblocker))) {
      this.log.warn(
        { event: 'consumer.read_cut', worker: this.worker },
        'blocked read could not be unblocked; its connection is dropped and anything it delivered stays pending until claimed',
      );
    }
    try {
      this.client.disconnect();
    } catch {
      // Already closed.
    }
  }

  /** Drops the connection at once, unless already closed. */
  disconnect(): void {
    const { status } = this.client;
    // A Cluster client disconnected twice stays 'disconnecting' for good (it
    // has no node left to drop, so never gets to 'close' or 'end').
    const closing = isCluster(this.client) && (status === 'close' || status === 'disconnecting');
    if (status !== 'end' && !closing) {
      this.client.disconnect();
    }
  }

  untilEnded(ms: number): Promise<void> {
    return untilEnded(this.client, ms);
  }

  /** Sends CLIENT UNBLOCK for the read in flight; true once the read has returned. */
  private async unblock(read: Promise<void>, unblocker: Unblocker): Promise<boolean> {
    let returned = false;
    void read.then(() => {
      returned = true;
    });
    const until = Date.now() + UNBLOCK_WAIT_MS;
    while (!returned && Date.now() < until) {
      const clientId = this.clientId;
      const unblocking =
        clientId === undefined || clientId === null
          ? undefined
          : unblocker.unblock(clientId, Math.max(1, until - Date.now()), this.idNode);
      if (!unblocking) {
        return false;
      }
      let unblocked: unknown;
      try {
        unblocked = await unblocking;
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
}

/**
 * XREADGROUP's reply (streams of [id, fields] entries, fields nil for an
 * entry deleted while pending) with its bulk strings decoded in place.
 * Read with callBuffer and decoded here: ioredis's own decoding (`call`)
 * copies every array of the reply on the way. In CPU profiles of the
 * runtime chain (100,000 events, issue 16) its convertBufferToString took
 * 306 ms of self time, this loop 145 ms; the Buffer-to-string calls
 * themselves are the same.
 */
function decodeInPlace(reply: unknown): unknown {
  if (!Array.isArray(reply)) {
    return reply;
  }
  for (const stream of reply as unknown[][]) {
    stream[0] = (stream[0] as Buffer).toString();
    for (const entry of stream[1] as unknown[][]) {
      entry[0] = (entry[0] as Buffer).toString();
      const fields = entry[1] as unknown[] | null;
      if (fields) {
        for (let i = 0; i < fields.length; i += 1) {
          fields[i] = (fields[i] as Buffer).toString();
        }
      }
    }
  }
  return reply;
}
