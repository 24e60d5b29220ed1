/**
 * Depth-first search for a cycle in a dependency graph. Returns the cycle as
 * a path that starts and ends on the same node (`a -> b -> a`), or undefined.
 * Edges to unknown nodes are followed as leaves, so callers can report those
 * separately.
 */
export function findCycle<T extends string>(
  nodes: Iterable<T>,
  dependsOn: (node: T) => readonly T[],
): T[] | undefined {
  const state = new Map<T, 'visiting' | 'done'>();
  const stack: T[] = [];
  const visit = (node: T): T[] | undefined => {
    if (state.get(node) === 'done') {
      return undefined;
    }
    if (state.get(node) === 'visiting') {
      return [...stack.slice(stack.indexOf(node)), node];
    }
    state.set(node, 'visiting');
    stack.push(node);
    for (const dep of dependsOn(node)) {
      const found = visit(dep);
      if (found) {
        return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of nodes) {
    const found = visit(node);
    if (found) {
      return found;
    }
  }
  return undefined;
}
