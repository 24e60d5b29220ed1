import type { FaultKind } from '../../dev/chaos/history';
import type { TopologyKind } from '../../dev/chaos/redis-topology';
import { renderReport } from '../../dev/chaos/report-table';
import { runSoak } from '../../dev/chaos/soak';

/** The short soak's size: ~300 deployments, 6 faults, 3 processes, well inside CI's limit. */
// Above the run's own time limit plus its clean-up, so a slow run fails with
// its report, never by jest's timeout with processes left behind.
export const SHORT_SOAK_TIMEOUT_MS = 180_000;

/**
 * Runs the short soak on `topology` with `seed` and expects no violation; on
 * failure the message is the whole run: each fault, the table, every
 * violation and where the service logs are. `including`: fault kinds the
 * seed's draw must contain (the test is about them).
 */
export async function expectShortSoakHolds(
  topology: TopologyKind,
  seed: number,
  including: FaultKind[] = [],
): Promise<void> {
  const lines: string[] = [];
  const result = await runSoak({
    seed,
    deployments: 300,
    rate: 40,
    processes: 3,
    faults: 6,
    services: 20,
    topology,
    timeLimitMs: 95_000,
    claimIdleMs: 1500,
    log: (line) => lines.push(line),
  });
  const verdict =
    result.report.violations.length === 0
      ? 'no violations'
      : [...lines, renderReport(result.report, seed, result.wallMs, result.timedOut)].join('\n');
  expect(verdict).toBe('no violations');
  const faults = Object.values(result.report.faults).reduce((a, b) => a + b, 0);
  expect(faults).toBeGreaterThanOrEqual(5);
  for (const kind of including) {
    // As a pair, so a failure names the kind the draw lacked.
    expect([kind, result.report.faults[kind] > 0]).toEqual([kind, true]);
  }
}
