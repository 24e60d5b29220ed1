import type { WorkerName } from '../config/worker-names';
import { findCycle } from '../common/find-cycle';
import { ConfigError } from '../errors';
import type { WorkerLifecycle } from '../lifecycle/worker-lifecycle';

/** The selected workers with their edges restricted to the selection. */
export interface WorkerPlan {
  /** Selected workers, dependencies before dependants. */
  order: WorkerLifecycle[];
  /** Selected workers each one waits for before starting. */
  dependencies: Map<WorkerName, WorkerName[]>;
  /** Selected workers that must stop before each one stops. */
  dependants: Map<WorkerName, WorkerName[]>;
}

/**
 * Checks the registered workers' declared dependencies and plans the selected
 * ones. The whole registered graph is checked, not just the selection: a
 * cycle is a wiring bug whatever subset this process runs.
 *
 * @throws ConfigError on a duplicate name, a dependency on an unregistered
 * worker, a cycle, or a selected worker nobody registered.
 */
export function planWorkers(
  registered: readonly WorkerLifecycle[],
  selection: readonly WorkerName[],
): WorkerPlan {
  const problems: string[] = [];
  const byName = new Map<string, WorkerLifecycle>();
  for (const worker of registered) {
    if (byName.has(worker.name)) {
      problems.push(`worker ${worker.name} is registered twice`);
    }
    byName.set(worker.name, worker);
  }
  for (const worker of registered) {
    for (const dep of worker.dependsOn) {
      if (!byName.has(dep)) {
        problems.push(
          `worker ${worker.name} depends on ${JSON.stringify(dep)}, which is not a registered worker; expected one of ${[...byName.keys()].join(', ')}`,
        );
      }
    }
  }
  for (const name of selection) {
    if (!byName.has(name)) {
      problems.push(`worker ${name} is selected but not registered in WorkersModule`);
    }
  }
  const cycle = findCycle(
    registered.map((worker) => worker.name),
    (name) => byName.get(name)?.dependsOn ?? [],
  );
  if (cycle) {
    problems.push(
      `workers.*.dependsOn: dependency cycle ${cycle.join(' -> ')}; expected an acyclic graph`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  const selected = new Set(selection);
  const dependencies = new Map<WorkerName, WorkerName[]>();
  const dependants = new Map<WorkerName, WorkerName[]>();
  for (const worker of registered) {
    if (selected.has(worker.name)) {
      // Dependencies outside this process's selection run elsewhere: not waited for.
      dependencies.set(
        worker.name,
        worker.dependsOn.filter((dep) => selected.has(dep)),
      );
      dependants.set(worker.name, []);
    }
  }
  for (const [name, deps] of dependencies) {
    for (const dep of deps) {
      dependants.get(dep)?.push(name);
    }
  }
  const order: WorkerLifecycle[] = [];
  const placed = new Set<WorkerName>();
  const place = (worker: WorkerLifecycle): void => {
    if (placed.has(worker.name)) {
      return;
    }
    placed.add(worker.name);
    for (const dep of dependencies.get(worker.name) ?? []) {
      const depWorker = byName.get(dep);
      if (depWorker) {
        place(depWorker);
      }
    }
    order.push(worker);
  };
  // Registration order breaks ties, so the WORKERS list reads as the start order.
  for (const worker of registered) {
    if (selected.has(worker.name)) {
      place(worker);
    }
  }
  return { order, dependencies, dependants };
}
