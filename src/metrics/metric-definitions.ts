import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC } from './metric-names';

/** One metric of SPEC §6 as prom-client is told it: the one place help, labels and buckets are set. */
export type MetricDefinition =
  | { type: 'counter' | 'gauge'; name: string; help: string; labelNames: string[] }
  | { type: 'histogram'; name: string; help: string; labelNames: string[]; buckets: number[] };

/**
 * The metrics the service registers at start (stream gauges, read from Redis
 * at scrape time, are StreamMetrics' own). MetricsModule provides them for
 * `@InjectMetric`; the bench builds the same ones in a private registry, so
 * it measures the runtime with the buckets and labels it runs with.
 */
export const METRIC_DEFINITIONS = {
  workerUp: {
    type: 'gauge',
    name: METRIC.workerUp,
    help: '1 when the worker is running and healthy, else 0',
    labelNames: ['worker'],
  },
  workerRestarts: {
    type: 'counter',
    name: METRIC.workerRestarts,
    help: 'Worker restarts by the supervisor',
    labelNames: ['worker'],
  },
  workerUptime: {
    type: 'gauge',
    name: METRIC.workerUptime,
    help: 'Seconds since the worker last became running',
    labelNames: ['worker'],
  },
  workerErrors: {
    type: 'counter',
    name: METRIC.workerErrors,
    help: 'Worker errors by kind',
    labelNames: ['worker', 'kind'],
  },
  workerInFlight: {
    type: 'gauge',
    name: METRIC.workerInFlight,
    help: 'Entries being handled now',
    labelNames: ['worker'],
  },
  eventsProcessed: {
    type: 'counter',
    name: METRIC.eventsProcessed,
    help: 'Entries handled, by outcome',
    labelNames: ['worker', 'outcome'],
  },
  eventProcessingSeconds: {
    type: 'histogram',
    name: METRIC.eventProcessingSeconds,
    help: 'Time from read to commit of one entry',
    labelNames: ['worker'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  },
  deadLetters: {
    type: 'counter',
    name: METRIC.deadLetters,
    help: 'Entries moved to the dead-letter stream',
    labelNames: ['worker', 'reason'],
  },
  deployments: {
    type: 'counter',
    name: METRIC.deployments,
    help: 'Deployments that reached a terminal outcome, counted once per terminal event by the Notifier',
    labelNames: ['outcome', 'failed_stage'],
  },
  notifications: {
    type: 'counter',
    name: METRIC.notifications,
    help: 'Notification targets settled, by target type and result',
    labelNames: ['type', 'result'],
  },
  registryWrites: {
    type: 'counter',
    name: METRIC.registryWrites,
    help: 'Registry writes of the Health Monitor: written, or refused because the stored entry is newer',
    labelNames: ['result'],
  },
  tracingSpansDropped: {
    type: 'counter',
    name: METRIC.tracingSpansDropped,
    help: 'Spans that never reached the OpenTelemetry collector: its queue was full or the export failed',
    labelNames: [],
  },
} as const satisfies Record<string, MetricDefinition>;

/** A prom-client metric built from its definition, registered only in `registry` (the bench's own). */
export function buildMetric(
  definition: MetricDefinition,
  registry: Registry,
): Counter | Gauge | Histogram {
  const { type, ...options } = definition;
  const registers = [registry];
  switch (type) {
    case 'counter':
      return new Counter({ ...options, registers });
    case 'gauge':
      return new Gauge({ ...options, registers });
    case 'histogram':
      return new Histogram({ ...options, registers });
  }
}
