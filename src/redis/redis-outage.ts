/** What an outage looked like once it is over: for the one "back" line. */
export interface OutageSummary {
  downMs: number;
  /** Connections that were lost (the shared client, each worker's read and commit connections). */
  connections: number;
  /** Repeated errors absorbed while it lasted, by log event. */
  repeats: Record<string, number>;
}

/**
 * The process's view of a Redis outage across all its connections, so an
 * operator reads one line when it starts and one when it ends, not one per
 * connection and per failed retry (SPEC §7: logged once). An outage starts
 * with the first connection lost and ends when every lost one is back;
 * what fails meanwhile only because Redis is away is counted, not printed.
 */
export class RedisOutage {
  private readonly down = new Set<string>();
  private readonly lostOnce = new Set<string>();
  private startedAt: number | undefined;
  private repeats: Record<string, number> = {};

  constructor(private readonly now: () => number = Date.now) {}

  get active(): boolean {
    return this.startedAt !== undefined;
  }

  /** A connection went away; true when this starts an outage (log it). */
  lost(connection: string): boolean {
    this.down.add(connection);
    this.lostOnce.add(connection);
    if (this.startedAt !== undefined) {
      return false;
    }
    this.startedAt = this.now();
    return true;
  }

  /**
   * A connection is back (or closed for good); the summary when it was the
   * last one down, ending the outage (log it), else undefined.
   */
  back(connection: string): OutageSummary | undefined {
    if (!this.down.delete(connection) || this.down.size > 0 || this.startedAt === undefined) {
      return undefined;
    }
    const summary: OutageSummary = {
      downMs: this.now() - this.startedAt,
      connections: this.lostOnce.size,
      repeats: this.repeats,
    };
    this.startedAt = undefined;
    this.lostOnce.clear();
    this.repeats = {};
    return summary;
  }

  /** During an outage: counts one more `event` and returns true (stay quiet); else false. */
  absorb(event: string): boolean {
    if (this.startedAt === undefined) {
      return false;
    }
    this.repeats[event] = (this.repeats[event] ?? 0) + 1;
    return true;
  }
}
