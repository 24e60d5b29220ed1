/**
 * `npm run chaos`: a chaos soak. N service processes (the built dist/main.js)
 * on one Redis with AOF, a flaky health target and webhook sink, a producer
 * at a steady rate, and faults drawn from a printed seed: kill -9 and
 * restart, SIGTERM and restart, CLIENT KILL of a process's connections, a
 * Redis restart, CLIENT PAUSE. When every deployment has an outcome (or the
 * time limit passes) the invariant checker reads the streams, dead letters,
 * registry and the sink's record. Exit 1 on any violation.
 *
 *   npm run chaos -- --seed 1234 --deployments 10000 --rate 100 --processes 3
 *   npm run chaos -- --topology sentinel   (or cluster; standalone by default)
 *
 * Replay a failed run with its seed. Needs redis-server on PATH.
 */
import { renderReport } from '../dev/chaos/report-table';
import { Random } from '../dev/chaos/random';
import { TOPOLOGIES, type TopologyKind } from '../dev/chaos/redis-topology';
import { runSoak } from '../dev/chaos/soak';

const DEFAULTS = {
  seed: undefined as number | undefined,
  deployments: 10_000,
  rate: 100,
  processes: 3,
  faults: 30,
  services: 50,
  'time-limit': 1200,
  'claim-idle': 3000,
  topology: 'standalone' as TopologyKind,
};

function parseArgs(argv: string[]): typeof DEFAULTS {
  const options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const name = (argv[i] ?? '').replace(/^--/, '') as keyof typeof DEFAULTS;
    const value = argv[i + 1];
    if (!(name in DEFAULTS) || value === undefined) {
      throw new Error(
        `unknown or incomplete option ${argv[i]}; options: ${Object.keys(DEFAULTS)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    }
    if (name === 'topology') {
      if (!(TOPOLOGIES as readonly string[]).includes(value)) {
        throw new Error(`--topology: ${value} is not one of ${TOPOLOGIES.join(', ')}`);
      }
      options.topology = value as TopologyKind;
    } else {
      const number = Number(value);
      if (!Number.isInteger(number) || number < 0) {
        throw new Error(`--${name}: ${value} is not a whole number`);
      }
      (options as Record<string, unknown>)[name] = number;
    }
  }
  return options;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const seed = options.seed ?? Random.freshSeed();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(
    `chaos seed ${seed} (replay: npm run chaos -- --seed ${seed}); ${options.deployments} deployments at ${options.rate}/s on ${options.processes} processes, ${options.faults} faults, ${options.topology}`,
  );
  // Ctrl-C ends the run early but still stops every process it started; a second one exits.
  const abort = new AbortController();
  process.once('SIGINT', () => {
    log('interrupted: stopping the run');
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const result = await runSoak({
    signal: abort.signal,
    seed,
    deployments: options.deployments,
    rate: options.rate,
    processes: options.processes,
    faults: options.faults,
    services: options.services,
    topology: options.topology,
    timeLimitMs: options['time-limit'] * 1000,
    claimIdleMs: options['claim-idle'],
    log,
  });
  log(renderReport(result.report, seed, result.wallMs, result.timedOut));
  log(`service logs: ${result.logDir}`);
  return result.report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
