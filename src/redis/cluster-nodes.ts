import calculateSlot from 'cluster-key-slot';
import type { Cluster, default as Redis } from 'ioredis';
import { isCluster, nodeKey, type RedisClient } from './connection-factory';

/**
 * `host:port` of the master that owns `key`'s slot, as the Cluster client
 * last learnt it (CLUSTER SLOTS); undefined before the first refresh.
 */
export function slotOwnerKey(cluster: Cluster, key: string): string | undefined {
  return cluster.slots[calculateSlot(key)]?.[0];
}

/** The Cluster client's own connection to the master of `key`'s slot, if it has one. */
export function slotOwner(cluster: Cluster, key: string): Redis | undefined {
  const owner = slotOwnerKey(cluster, key);
  return owner === undefined
    ? undefined
    : cluster.nodes('master').find((node) => nodeKey(node) === owner);
}

/**
 * Where a keyspace-wide command (SCAN, INFO keyspace) must go to see every
 * key: each master of a Cluster (a SCAN on the Cluster client would ask one
 * node at random), or the one connection otherwise.
 */
export function keyspaceNodes(client: RedisClient): Array<Redis | Cluster> {
  return isCluster(client) ? client.nodes('master') : [client];
}
