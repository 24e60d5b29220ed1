/** The ~300-byte event every chain carries; `t0` is its publish time (epoch ms, fractional). */
export interface Payload {
  deploymentId: string;
  service: string;
  version: string;
  t0: number;
  pad: string;
}

export function payload(i: number, t0 = 0): Payload {
  return {
    deploymentId: `dep-${i}`,
    service: 'billing-api',
    version: '1.4.2',
    t0,
    pad: 'x'.repeat(60),
  };
}

/**
 * A four-stage chain the bench can measure, whatever carries it (the
 * runtime, the raw ioredis baseline, BullMQ): filled, started, waited on,
 * fed at a fixed rate, stopped.
 */
export interface BenchChain {
  /** Adds `payloads` to the first stage before it starts; resolves with the mean event bytes. */
  prefill(payloads: Payload[]): Promise<number>;
  /** Starts the stages; `onFinal` is called with each payload the last stage has finished. */
  start(onFinal?: (payload: Payload) => void): Promise<void>;
  /** Resolves once `count` events have passed every stage. */
  waitFinished(count: number, timeoutMs: number): Promise<void>;
  /** Adds one event to the first stage, not awaited (the caller keeps a fixed schedule). */
  publish(payload: Payload): void;
  /** Stops the stages (idle, for the latency runs) and frees everything; resolves with the stop's ms. */
  stop(): Promise<number>;
}
