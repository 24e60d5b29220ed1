import { keyspaceNodes } from '../redis/cluster-nodes';
import type { RedisClient } from '../redis/connection-factory';
import type { StreamTopology } from '../streams/topology';

/** Escapes MATCH glob characters so a prefix is matched literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Environments that have a registry hash, found with SCAN (never KEYS: it
 * blocks a production Redis), sorted by name.
 */
export async function registryEnvironments(
  redis: RedisClient,
  topology: StreamTopology,
): Promise<Array<{ environment: string; key: string }>> {
  const base = topology.registryKey('');
  const pattern = `${escapeGlob(base)}*`;
  const keys = new Set<string>();
  // In Cluster mode each master holds its own share of the keys.
  for (const node of keyspaceNodes(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500, 'TYPE', 'hash');
      cursor = next;
      for (const key of batch) {
        keys.add(key);
      }
    } while (cursor !== '0');
  }
  return [...keys]
    .map((key) => ({ environment: key.slice(base.length), key }))
    .filter(
      (entry) => entry.environment !== '' && entry.key === topology.registryKey(entry.environment),
    )
    .sort((a, b) => a.environment.localeCompare(b.environment));
}
