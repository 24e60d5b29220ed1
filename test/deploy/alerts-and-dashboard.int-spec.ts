import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { generatedFiles } from '../../scripts/deploy-artefacts';
import { REPO, RULES_PATH, alertRules, dashboard, dashboardQueries } from '../helpers/deploy-files';
import { readPromql } from '../helpers/promql';
import { requireTool, runTool } from '../helpers/tools';

// Real: promtool (Debian's prometheus package) on the committed files. The
// metric names are checked against a running service in
// test/observability/observability.e2e-spec.ts.

const TESTS_PATH = join(REPO, 'deploy/prometheus/printery-workers.rules.test.yml');

/** GitHub's anchor of a Markdown heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

describe('deploy/prometheus alert rules', () => {
  let promtool: string;

  beforeAll(() => {
    promtool = requireTool('promtool');
  });

  it('pass promtool check rules', async () => {
    const result = await runTool(promtool, ['check', 'rules', RULES_PATH]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(result.code).toBe(0);
  });

  it('pass their promtool unit tests', async () => {
    const result = await runTool(promtool, ['test', 'rules', TESTS_PATH]);
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('each have a unit test where it fires and one where it stays quiet', () => {
    const tests = parse(readFileSync(TESTS_PATH, 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const { alert } of alertRules()) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({
        alert,
        fires: true,
      });
      expect({ alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({
        alert,
        quiet: true,
      });
    }
  });

  it('each wait with for:, carry a severity and a summary, and link a runbook section that exists', () => {
    const operations = readFileSync(join(REPO, 'docs/operations.md'), 'utf8');
    const anchors = new Set(
      [...operations.matchAll(/^#{1,4} (.+)$/gm)].map((match) => anchorOf(match[1] as string)),
    );
    for (const rule of alertRules()) {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      const [path, anchor] = (rule.annotations?.runbook_url ?? '').split('#');
      expect(path).toBe('docs/operations.md');
      expect({ alert: rule.alert, anchor, exists: anchors.has(anchor ?? '') }).toEqual({
        alert: rule.alert,
        anchor: rule.alert.toLowerCase(),
        exists: true,
      });
    }
  });
});

describe('generated deploy/ files', () => {
  it.each(generatedFiles().map((file) => [file.path, file.content]))(
    '%s is what `npm run deploy:generate` writes',
    (path, content) => {
      expect(readFileSync(join(REPO, path), 'utf8')).toBe(content);
    },
  );
});

describe('deploy/grafana dashboard', () => {
  const queries = dashboardQueries();

  it('lets the viewer choose job and instance, and every query honours both', () => {
    const variables = dashboard().templating.list.map((variable) => variable.name);
    expect(variables).toEqual(expect.arrayContaining(['datasource', 'job', 'instance', 'worker']));
    for (const query of queries.filter((q) => !q.where.startsWith('variable'))) {
      expect({ query: query.raw, job: query.raw.includes('job=~"$job"') }).toEqual({
        query: query.raw,
        job: true,
      });
      expect({ query: query.raw, instance: query.raw.includes('instance=~"$instance"') }).toEqual({
        query: query.raw,
        instance: true,
      });
    }
  });

  it('has only queries that parse, read by promtool and by the Prometheus grammar', async () => {
    const promtool = requireTool('promtool');
    for (const query of queries) {
      expect({ query: query.expr, errors: readPromql(query.expr).errors }).toEqual({
        query: query.expr,
        errors: 0,
      });
    }
    // promtool parses rule expressions: one recording rule per query.
    const dir = mkdtempSync(join(tmpdir(), 'printery-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      writeFileSync(
        file,
        stringify({
          groups: [
            {
              name: 'dashboard',
              rules: queries.map((query, index) => ({
                record: `dashboard:query_${index}`,
                expr: query.expr,
              })),
            },
          ],
        }),
      );
      const result = await runTool(promtool, ['check', 'rules', file]);
      expect(result.stdout + result.stderr).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
