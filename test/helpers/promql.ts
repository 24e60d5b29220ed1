import { parser } from '@prometheus-io/lezer-promql';

/**
 * PromQL read with the Prometheus project's own grammar (the one its web UI
 * uses): whether an expression parses, and which metrics it selects.
 */
export interface PromqlReading {
  errors: number;
  metrics: string[];
}

export function readPromql(expr: string): PromqlReading {
  const metrics = new Set<string>();
  let errors = 0;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) {
        errors += 1;
      }
      if (node.name === 'VectorSelector') {
        const name = node.node.getChild('Identifier');
        if (name) {
          metrics.add(expr.slice(name.from, name.to));
        }
      }
    },
  });
  return { errors, metrics: [...metrics] };
}
