import { Global, Module } from '@nestjs/common';
import {
  PrometheusModule,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import { METRIC } from './metric-names';

const providers = [
  makeGaugeProvider({
    name: METRIC.workerUp,
    help: '1 when the worker is running and healthy, else 0',
    labelNames: ['worker'],
  }),
  makeCounterProvider({
    name: METRIC.workerRestarts,
    help: 'Worker restarts by the supervisor',
    labelNames: ['worker'],
  }),
  makeGaugeProvider({
    name: METRIC.workerUptime,
    help: 'Seconds since the worker last became running',
    labelNames: ['worker'],
  }),
  makeCounterProvider({
    name: METRIC.workerErrors,
    help: 'Worker errors by kind',
    labelNames: ['worker', 'kind'],
  }),
  makeGaugeProvider({
    name: METRIC.workerInFlight,
    help: 'Entries being handled now',
    labelNames: ['worker'],
  }),
  makeCounterProvider({
    name: METRIC.eventsProcessed,
    help: 'Entries handled, by outcome',
    labelNames: ['worker', 'outcome'],
  }),
  makeHistogramProvider({
    name: METRIC.eventProcessingSeconds,
    help: 'Time from read to commit of one entry',
    labelNames: ['worker'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  }),
  makeCounterProvider({
    name: METRIC.deadLetters,
    help: 'Entries moved to the dead-letter stream',
    labelNames: ['worker', 'reason'],
  }),
  makeCounterProvider({
    name: METRIC.deployments,
    help: 'Deployments that reached a terminal outcome, counted once per terminal event by the Notifier',
    labelNames: ['outcome', 'failed_stage'],
  }),
  makeCounterProvider({
    name: METRIC.notifications,
    help: 'Notification targets settled, by target type and result',
    labelNames: ['type', 'result'],
  }),
  makeCounterProvider({
    name: METRIC.registryWrites,
    help: 'Registry writes of the Health Monitor: written, or refused because the stored entry is newer',
    labelNames: ['result'],
  }),
];

/**
 * Serves GET /metrics (prom-client default process metrics plus the printery_
 * metrics) and exports each metric for `@InjectMetric(METRIC.…)`.
 */
@Global()
@Module({
  imports: [
    PrometheusModule.register({
      path: '/metrics',
      defaultMetrics: { enabled: true },
    }),
  ],
  providers,
  exports: providers,
})
export class MetricsModule {}
