import type { default as Redis } from 'ioredis';
import { isCluster, nodeKey, type RedisClient } from './connection-factory';
import { slotOwnerKey } from './cluster-nodes';

/** What a connection's events mean for the process's outage tracking. */
export interface OutageHooks {
  /** The connection (for a Cluster: the pipeline's master) went away unplanned. */
  lost(): void;
  /** It is back, or closed for good. */
  back(): void;
  error(error: Error): void;
}

/**
 * Turns a client's events into lost/back. A plain connection (standalone,
 * Sentinel) says it itself: 'reconnecting' only for an unplanned loss (not
 * after quit/disconnect), 'ready' when back; a Sentinel client reconnects
 * on +switch-master and says the same. A Cluster client stays 'ready' while
 * one master is away, so there the pipeline's master is followed: lost when
 * its node errs or leaves, back when the node that now owns `slotKey`'s slot
 * is ready (after a failover, the promoted replica).
 */
export function watchOutage(client: RedisClient, slotKey: string, hooks: OutageHooks): void {
  let everReady = false;
  client.on('reconnecting', () => {
    if (everReady) {
      hooks.lost();
    }
  });
  client.on('ready', () => {
    everReady = true;
    hooks.back();
  });
  client.on('error', (error: Error) => hooks.error(error));
  client.once('end', () => hooks.back());
  if (!isCluster(client)) {
    return;
  }
  const ownsSlot = (key: string): boolean => {
    const owner = slotOwnerKey(client, slotKey);
    return owner === undefined || owner === key;
  };
  const watchNode = (node: Redis): void => {
    node.on('ready', () => {
      if (everReady && ownsSlot(nodeKey(node))) {
        hooks.back();
      }
    });
  };
  client.on('+node', watchNode);
  // A node dropped while the client is 'ready' is a loss; while it is
  // disconnecting, it is the client closing its own connections.
  client.on('node error', (error: Error, key: string) => {
    hooks.error(error);
    if (everReady && client.status === 'ready' && ownsSlot(key)) {
      hooks.lost();
    }
  });
  client.on('-node', (node: Redis) => {
    if (everReady && client.status === 'ready' && ownsSlot(nodeKey(node))) {
      hooks.lost();
    }
  });
  // After a slots refresh the owner may be a node already connected.
  client.on('refresh', () => {
    const owner = slotOwnerKey(client, slotKey);
    const node = client.nodes('master').find((candidate) => nodeKey(candidate) === owner);
    if (everReady && node?.status === 'ready') {
      hooks.back();
    }
  });
}
