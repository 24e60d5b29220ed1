import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  type Dashboard,
  type Panel,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/**
 * The printery-workers Grafana dashboard (deploy/grafana/), built with
 * Grafana's foundation SDK. `npm run deploy:generate` writes the JSON; a test
 * checks the committed file is this output, that every query parses and that
 * it names only metrics the service exports.
 */

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Label matchers every query carries: the dashboard's job and instance choices. */
function selector(extra = ''): string {
  return `{job=~"$job",instance=~"$instance"${extra}}`;
}
const ofWorker = selector(',worker="$worker"');
/** The consumer group of the repeated row's worker (groups are printery-<worker>). */
const ofGroup = selector(',group="printery-$worker"');

interface Query {
  expr: string;
  legend: string;
}

function target(query: Query): DataqueryBuilder {
  return new DataqueryBuilder().datasource(DATASOURCE).expr(query.expr).legendFormat(query.legend);
}

function timeseries(title: string, unit: string, queries: Query[], description: string) {
  const panel = new TimeseriesBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .span(8)
    .height(7);
  for (const query of queries) {
    panel.withTarget(target(query));
  }
  return panel;
}

function stat(title: string, query: Query, description: string) {
  return new StatBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(4)
    .height(7)
    .withTarget(target(query));
}

function labelVariable(name: string, label: string, query: string) {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+');
}

const pipelinePanels: Array<Builder<Panel>> = [
  stat(
    'Instances with the worker up',
    { expr: `sum by (worker) (printery_worker_up${selector()})`, legend: '{{worker}}' },
    'Per worker, how many instances run it up and healthy.',
  ),
  stat(
    'Redis reachable',
    { expr: `min(printery_redis_up${selector()})`, legend: 'redis' },
    '1 when every instance reaches Redis, 0 when one does not.',
  ),
  timeseries(
    'Deployments by outcome',
    'short',
    [
      {
        expr: `sum by (outcome, failed_stage) (increase(printery_deployments_total${selector()}[$__rate_interval]))`,
        legend: '{{outcome}} {{failed_stage}}',
      },
    ],
    'Deployments that reached a terminal outcome, by the stage that failed them.',
  ),
  timeseries(
    'Notifications by result',
    'short',
    [
      {
        expr: `sum by (type, result) (increase(printery_notifications_total${selector()}[$__rate_interval]))`,
        legend: '{{type}} {{result}}',
      },
    ],
    'Notification targets settled: delivered, failed, or deduplicated on a redelivery.',
  ),
  timeseries(
    'Dead letters',
    'short',
    [
      {
        expr: `sum by (worker, reason) (increase(printery_dead_letters_total${selector()}[$__rate_interval]))`,
        legend: '{{worker}} {{reason}}',
      },
    ],
    'Entries moved to the dead-letter stream; see `printery-workers dlq list`.',
  ),
  timeseries(
    'Lag by group',
    'short',
    [
      {
        expr: `max by (stream, group) (printery_stream_lag${selector()})`,
        legend: '{{group}} {{stream}}',
      },
    ],
    'Entries not yet delivered to each group; KEDA adds pods on it.',
  ),
  timeseries(
    'Stream lengths',
    'short',
    [{ expr: `max by (stream) (printery_stream_length${selector()})`, legend: '{{stream}}' }],
    'Entries in every stream the service reads or writes, dead letters included.',
  ),
];

const workerPanels: Array<Builder<Panel>> = [
  timeseries(
    'Throughput by outcome',
    'ops',
    [
      {
        expr: `sum by (outcome) (rate(printery_events_processed_total${ofWorker}[$__rate_interval]))`,
        legend: '{{outcome}}',
      },
    ],
    'Entries handled per second: ok, retry, dead_letter, skipped.',
  ),
  timeseries(
    'Processing time',
    's',
    [0.5, 0.9, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le) (rate(printery_event_processing_seconds_bucket${ofWorker}[$__rate_interval])))`,
      legend: `p${q * 100}`,
    })),
    'Read to commit of one entry.',
  ),
  timeseries(
    'In flight',
    'short',
    [{ expr: `sum by (instance) (printery_worker_in_flight${ofWorker})`, legend: '{{instance}}' }],
    'Entries being handled now, per instance (bounded by the worker concurrency).',
  ),
  timeseries(
    'Pending',
    'short',
    [{ expr: `max by (stream) (printery_stream_pending${ofGroup})`, legend: '{{stream}}' }],
    'Delivered to the group and not yet acknowledged.',
  ),
  timeseries(
    'Lag',
    'short',
    [{ expr: `max by (stream) (printery_stream_lag${ofGroup})`, legend: '{{stream}}' }],
    'Not yet delivered to the group: what KEDA scales on.',
  ),
  timeseries(
    'Oldest pending age',
    's',
    [
      {
        expr: `max by (stream) (printery_stream_oldest_pending_age_seconds${ofGroup})`,
        legend: '{{stream}}',
      },
    ],
    'Age of the oldest entry delivered and not acknowledged.',
  ),
  timeseries(
    'Dead letters',
    'short',
    [
      {
        expr: `sum by (reason) (increase(printery_dead_letters_total${ofWorker}[$__rate_interval]))`,
        legend: '{{reason}}',
      },
    ],
    'Entries this worker moved to the dead-letter stream, by reason.',
  ),
  timeseries(
    'Restarts and errors',
    'short',
    [
      {
        expr: `sum by (instance) (increase(printery_worker_restarts_total${ofWorker}[$__rate_interval]))`,
        legend: 'restarts {{instance}}',
      },
      {
        expr: `sum by (kind) (increase(printery_worker_errors_total${ofWorker}[$__rate_interval]))`,
        legend: 'errors {{kind}}',
      },
    ],
    'Supervisor restarts per instance and errors by kind.',
  ),
  timeseries(
    'Up',
    'short',
    [{ expr: `printery_worker_up${ofWorker}`, legend: '{{instance}}' }],
    '1 while the worker runs and is healthy on the instance.',
  ),
];

export function printeryDashboard(): Dashboard {
  const dashboard = new DashboardBuilder('printery-workers')
    .uid('printery-workers')
    .description('Deployment pipeline workers over Redis Streams (docs/operations.md)')
    .tags(['printery', 'redis-streams'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    )
    .withVariable(labelVariable('job', 'Job', 'label_values(printery_worker_up, job)'))
    .withVariable(
      labelVariable(
        'instance',
        'Instance',
        'label_values(printery_worker_up{job=~"$job"}, instance)',
      ),
    )
    .withVariable(
      labelVariable(
        'worker',
        'Worker',
        'label_values(printery_worker_up{job=~"$job",instance=~"$instance"}, worker)',
      ),
    )
    .withRow(new RowBuilder('Pipeline'));
  for (const panel of pipelinePanels) {
    dashboard.withPanel(panel);
  }
  dashboard.withRow(new RowBuilder('Worker $worker').repeat('worker'));
  for (const panel of workerPanels) {
    dashboard.withPanel(panel);
  }
  return dashboard.build();
}
