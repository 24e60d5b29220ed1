import { Global, Module } from '@nestjs/common';
import {
  PrometheusModule,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import { METRIC_DEFINITIONS } from './metric-definitions';

const providers = Object.values(METRIC_DEFINITIONS).map(({ type, ...options }) => {
  switch (type) {
    case 'counter':
      return makeCounterProvider(options);
    case 'gauge':
      return makeGaugeProvider(options);
    case 'histogram':
      return makeHistogramProvider(options);
  }
});

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
