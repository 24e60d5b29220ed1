import { renderReport } from '../../dev/chaos/report-table';
import { Random } from '../../dev/chaos/random';
import { runSoak } from '../../dev/chaos/soak';

// Real: three built service processes (dist/main.js), one redis-server with
// AOF, flaky loopback health target and webhook sink, faults of every kind
// from the seed. The short form of `npm run chaos`, checked by the same checker.

const FIXED_SEED = 20_240_614;
const RANDOM_SEED = Random.freshSeed();

describe('chaos soak (short)', () => {
  it.each([
    ['a fixed seed', FIXED_SEED],
    ['a random seed', RANDOM_SEED],
  ])(
    'holds every invariant under %s (%d)',
    async (_name, seed) => {
      const lines: string[] = [];
      const result = await runSoak({
        seed,
        deployments: 300,
        rate: 40,
        processes: 3,
        faults: 6,
        services: 20,
        topology: 'standalone',
        timeLimitMs: 75_000,
        claimIdleMs: 1500,
        log: (line) => lines.push(line),
      });
      // On failure the message is the whole run: each fault, the table, every violation, the logs.
      const verdict =
        result.report.violations.length === 0
          ? 'no violations'
          : [...lines, renderReport(result.report, seed, result.wallMs, result.timedOut)].join(
              '\n',
            );
      expect(verdict).toBe('no violations');
      expect(result.report.faults).toEqual(expect.any(Object));
      expect(Object.values(result.report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(
        5,
      );
    },
    100_000,
  );
});
