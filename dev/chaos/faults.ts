import type { Fault, FaultKind } from './history';
import type { Random } from './random';
import type { ChaosRedis } from './redis-topology';
import type { ServiceFleet } from './service-fleet';

/** The default fault mix: kind and relative weight. */
export const DEFAULT_FAULT_MIX: ReadonlyArray<readonly [FaultKind, number]> = [
  ['kill9', 3],
  ['sigterm', 2],
  ['client-kill', 2],
  ['redis-restart', 1],
  ['client-pause', 2],
];

export interface ScheduledFault {
  kind: FaultKind;
  atMs: number;
}

/** `count` faults drawn from `mix`, one in each equal slice of `windowMs`, at a random point of it. */
export function faultSchedule(
  random: Random,
  count: number,
  windowMs: number,
  mix = DEFAULT_FAULT_MIX,
): ScheduledFault[] {
  const slice = windowMs / Math.max(count, 1);
  return Array.from({ length: count }, (_, i) => ({
    kind: random.weighted(mix),
    atMs: Math.round(slice * i + slice * (0.2 + 0.6 * random.next())),
  }));
}

/**
 * Carries out faults against the fleet and its Redis. Process restarts run
 * in the background (the schedule goes on meanwhile); `settled()` waits for them.
 */
export class FaultInjector {
  readonly done: Fault[] = [];
  private readonly background: Array<Promise<unknown>> = [];

  constructor(
    private readonly redis: ChaosRedis,
    private readonly fleet: ServiceFleet,
    private readonly random: Random,
    /** A stream of the pipeline: on Sentinel and Cluster, the restart aims at its master. */
    private readonly streamKey: string,
    private readonly startedAt: number,
    private readonly log: (line: string) => void,
  ) {}

  async inject(kind: FaultKind): Promise<void> {
    const target = await this.readyTarget();
    const atMs = Date.now() - this.startedAt;
    switch (kind) {
      case 'kill9':
      case 'sigterm': {
        if (!target) {
          return;
        }
        const downMs = this.random.int(200, 1500);
        this.background.push(
          (async () => {
            await target.stop(kind === 'kill9' ? 'SIGKILL' : 'SIGTERM');
            await new Promise((r) => setTimeout(r, downMs));
            await target.start();
          })(),
        );
        this.record(
          { kind, atMs, process: target.index },
          `process ${target.index}, back in ${downMs} ms`,
        );
        return;
      }
      case 'client-kill': {
        if (!target) {
          return;
        }
        const killed = await this.redis.killConnections(target.pid);
        this.record(
          { kind, atMs, process: target.index },
          `process ${target.index}, ${killed} connections`,
        );
        return;
      }
      case 'redis-restart': {
        // Counted even when it fails half way: a master stopped is a fault all the same.
        const detail = await this.redis.restart(this.streamKey).catch((error: unknown) => {
          this.record({ kind, atMs }, `failed part way: ${String(error)}`);
          throw error;
        });
        this.record({ kind, atMs }, detail);
        return;
      }
      case 'client-pause': {
        const ms = this.random.int(1000, 3000);
        await this.redis.pause(ms);
        this.record({ kind, atMs }, `${ms} ms`);
        return;
      }
    }
  }

  /**
   * A running, ready process to aim at; on a loaded machine every one may
   * still be restarting from the last fault, so wait a while for one.
   */
  private async readyTarget() {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const target = this.fleet.running((count) => this.random.int(0, count - 1));
      if (target || Date.now() > deadline) {
        return target;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async settled(): Promise<void> {
    await Promise.all(this.background);
  }

  private record(fault: Fault, detail: string): void {
    this.done.push(fault);
    this.log(
      `fault ${String(this.done.length).padStart(3)}  +${(fault.atMs / 1000).toFixed(1)}s  ${fault.kind}  ${detail}`,
    );
  }
}
