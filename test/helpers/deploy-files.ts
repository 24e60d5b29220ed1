import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DASHBOARD_FILE, RULES_FILE } from '../../scripts/deploy-artefacts';

/** The repository root. */
export const REPO = resolve(__dirname, '..', '..');
export const RULES_PATH = join(REPO, RULES_FILE);

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The alerting rules of deploy/prometheus, as Prometheus reads them. */
export function alertRules(): AlertRule[] {
  const file = parse(readFileSync(RULES_PATH, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);
}

/**
 * Grafana's variables as one concrete choice, so that a dashboard query
 * reads as the PromQL Prometheus receives.
 */
const VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __range: '1h',
  job: '.+',
  instance: '.+',
  worker: 'validator',
};

function concrete(query: string): string {
  return query.replace(/\$(\w+)/g, (whole, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) {
      throw new Error(`dashboard query uses an unknown variable ${whole}: ${query}`);
    }
    return value;
  });
}

interface DashboardJson {
  panels: Array<{ title: string; targets?: Array<{ expr?: string }> }>;
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

export function dashboard(): DashboardJson {
  return JSON.parse(readFileSync(join(REPO, DASHBOARD_FILE), 'utf8')) as DashboardJson;
}

/**
 * Every PromQL expression of the dashboard, variables filled in: each
 * panel's queries, and the series selector of each `label_values()` variable.
 */
export function dashboardQueries(): Array<{ where: string; raw: string; expr: string }> {
  const { panels, templating } = dashboard();
  const fromPanels = panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: panel.title, raw: target.expr ?? '' })),
  );
  const fromVariables = templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const match = /^label_values\((.+),\s*\w+\)$/.exec(String(variable.query));
      return { where: `variable ${variable.name}`, raw: match?.[1] ?? String(variable.query) };
    });
  return [...fromPanels, ...fromVariables].map((q) => ({ ...q, expr: concrete(q.raw) }));
}
