import { z } from 'zod';
import type { DependencySpec, DeploymentRequest } from './deployment';

/**
 * One service's line in the registry hash `${REGISTRY_PREFIX}:${environment}`
 * (field = service), as JSON. Written by the Health Monitor on a healthy
 * deployment and by operators with `registry set`.
 */
export interface RegistryEntry {
  version: string;
  deploymentId: string | null;
  dependencies: DependencySpec[];
  healthy: boolean;
  updatedAt: string | null;
  /**
   * Stream id of the `deployment:started` entry behind the value (a CLI
   * write: an id of its own time). The registry never goes backwards: a
   * write older than the stored value is refused. Null (older writers)
   * counts as oldest.
   */
  startedId: string | null;
}

const dependencyItem = z.union([
  z.object({ service: z.string(), version: z.string().default('*') }),
  // Operators may seed dependencies as bare service names.
  z.string().transform((service) => ({ service, version: '*' })),
]);

const registryEntrySchema = z.object({
  version: z.string(),
  deploymentId: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  dependencies: z.array(dependencyItem).default([]),
  healthy: z.boolean().default(false),
  updatedAt: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  startedId: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
});

/** Parses a registry value; undefined when it is not readable JSON of the expected shape. */
export function parseRegistryEntry(raw: string): RegistryEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = registryEntrySchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The registry value recorded for a deployment that became healthy. */
export function registryEntryFor(
  deployment: DeploymentRequest,
  startedId: string | null,
  now: Date,
): RegistryEntry {
  return {
    version: deployment.version,
    deploymentId: deployment.deploymentId,
    dependencies: deployment.dependencies,
    healthy: true,
    updatedAt: now.toISOString(),
    startedId,
  };
}
