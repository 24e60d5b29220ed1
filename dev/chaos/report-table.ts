import Table from 'cli-table3';
import type { Report } from './checker';
import { FAULT_KINDS, STAGES } from './history';

/** The run's figures and every violation, as `npm run chaos` and the soak test print them. */
export function renderReport(
  report: Report,
  seed: number,
  wallMs: number,
  timedOut: boolean,
): string {
  const table = new Table({
    head: ['', 'count', 'bound'],
    style: { head: [], border: [], compact: true },
  });
  const outcomes = Object.entries(report.outcomes)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  table.push(
    ['seed', String(seed), ''],
    ['wall time', `${(wallMs / 1000).toFixed(1)} s${timedOut ? ' (time limit)' : ''}`, ''],
    ['deployments', String(report.deployments), outcomes],
  );
  for (const kind of FAULT_KINDS) {
    table.push([`faults: ${kind}`, String(report.faults[kind]), '']);
  }
  for (const stage of STAGES) {
    table.push([
      `duplicates: ${stage}`,
      String(report.duplicates[stage]),
      `≤ ${report.duplicateBounds[stage]}`,
    ]);
  }
  table.push(
    ['duplicates: webhook', String(report.webhookDuplicates), `≤ ${report.webhookBound}`],
    ['dead letters', String(report.deadLetters), ''],
    ['violations', String(report.violations.length), ''],
  );
  const lines = [table.toString()];
  for (const violation of report.violations.slice(0, 50)) {
    lines.push(`  ${violation.invariant}  ${violation.deploymentId ?? '-'}  ${violation.detail}`);
  }
  if (report.violations.length > 50) {
    lines.push(`  … and ${report.violations.length - 50} more`);
  }
  return lines.join('\n');
}
