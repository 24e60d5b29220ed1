import semver from 'semver';
import type { DependencyResult, DeploymentRequest } from '../../domain/deployment';
import { parseRegistryEntry, type RegistryEntry } from '../../domain/registry-entry';

/**
 * A path from `from` back to `to` through `graph`, as the list of services
 * walked (`[from, …, to]`), or undefined when there is none. Depth-first with
 * a visited set, so it terminates on graphs that already contain cycles.
 */
export function findPath(
  graph: ReadonlyMap<string, readonly string[]>,
  from: string,
  to: string,
): string[] | undefined {
  const visited = new Set<string>();
  const walk = (node: string, trail: string[]): string[] | undefined => {
    if (node === to) {
      return [...trail, node];
    }
    if (visited.has(node)) {
      return undefined;
    }
    visited.add(node);
    for (const next of graph.get(node) ?? []) {
      const found = walk(next, [...trail, node]);
      if (found) {
        return found;
      }
    }
    return undefined;
  };
  return walk(from, []);
}

/**
 * Checks a deployment's dependencies against its environment's registry
 * (the whole hash, as read in one HGETALL): each dependency present, its
 * version within the required range, marked healthy, and not leading back
 * to the deployed service through the recorded dependencies (the new
 * deployment's own dependencies replace its current registry line).
 */
export function checkDependencies(
  deployment: DeploymentRequest,
  registry: Readonly<Record<string, string>>,
): DependencyResult[] {
  const entries = new Map<string, RegistryEntry | undefined>(
    Object.entries(registry).map(([service, raw]) => [service, parseRegistryEntry(raw)]),
  );
  const graph = new Map<string, string[]>();
  for (const [service, entry] of entries) {
    graph.set(service, entry?.dependencies.map((dep) => dep.service) ?? []);
  }
  graph.set(
    deployment.service,
    deployment.dependencies.map((dep) => dep.service),
  );

  return deployment.dependencies.map((dep): DependencyResult => {
    const base = { service: dep.service, required: dep.version };
    if (!entries.has(dep.service)) {
      return {
        ...base,
        found: null,
        status: 'missing',
        reason: `${dep.service} is not in the ${deployment.environment} registry`,
      };
    }
    const entry = entries.get(dep.service);
    if (!entry) {
      return {
        ...base,
        found: null,
        status: 'missing',
        reason: `the ${deployment.environment} registry entry of ${dep.service} is unreadable`,
      };
    }
    if (semver.valid(entry.version) === null || !semver.satisfies(entry.version, dep.version)) {
      return {
        ...base,
        found: entry.version,
        status: 'version_mismatch',
        reason: `${dep.service} ${entry.version} does not satisfy ${dep.version}`,
      };
    }
    if (!entry.healthy) {
      return {
        ...base,
        found: entry.version,
        status: 'unhealthy',
        reason: `${dep.service} ${entry.version} is not marked healthy`,
      };
    }
    const back = findPath(graph, dep.service, deployment.service);
    if (back) {
      const cycle = [deployment.service, ...back];
      return {
        ...base,
        found: entry.version,
        status: 'cycle',
        reason: `dependency cycle: ${cycle.join(' -> ')}`,
        cycle,
      };
    }
    return { ...base, found: entry.version, status: 'ok', reason: null };
  });
}
