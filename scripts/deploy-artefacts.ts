import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { printeryDashboard } from './grafana-dashboard';

/**
 * The generated files of deploy/: the Grafana dashboard (from
 * grafana-dashboard.ts) and the Prometheus Operator's PrometheusRule (from
 * the plain rules file that promtool checks and tests). `npm run
 * deploy:generate` writes them; a test fails when a committed copy differs.
 */

export const ROOT = resolve(__dirname, '..');
export const RULES_FILE = 'deploy/prometheus/printery-workers.rules.yml';
export const DASHBOARD_FILE = 'deploy/grafana/printery-workers.json';
export const PROMETHEUS_RULE_FILE = 'deploy/kubernetes/prometheusrule.yaml';

export interface GeneratedFile {
  path: string;
  content: string;
}

function prometheusRule(rulesYaml: string): string {
  const rules = parse(rulesYaml) as { groups: unknown[] };
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'printery-workers',
      labels: {
        'app.kubernetes.io/name': 'printery-workers',
        'app.kubernetes.io/part-of': 'printery',
      },
    },
    spec: { groups: rules.groups },
  };
  return [
    `# Generated from ${RULES_FILE} by \`npm run deploy:generate\`: edit that file, not this one.`,
    '# The Prometheus Operator loads it; its Prometheus must select it (ruleSelector).',
    stringify(resource, { lineWidth: 0 }),
  ].join('\n');
}

export function generatedFiles(): GeneratedFile[] {
  return [
    { path: DASHBOARD_FILE, content: `${JSON.stringify(printeryDashboard(), null, 2)}\n` },
    {
      path: PROMETHEUS_RULE_FILE,
      content: prometheusRule(readFileSync(join(ROOT, RULES_FILE), 'utf8')),
    },
  ];
}

if (require.main === module) {
  for (const file of generatedFiles()) {
    writeFileSync(join(ROOT, file.path), file.content);
    console.log(`wrote ${file.path}`);
  }
}
