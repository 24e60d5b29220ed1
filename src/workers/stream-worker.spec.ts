import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load-config';
import type { StreamConsumer } from '../streams/consumer';
import type { HandlerResult } from '../streams/handler';
import type { StreamConsumerFactory } from '../streams/stream-consumer.factory';
import { StreamWorker, WARM_UP_DELAY_MS } from './stream-worker';

/** A consumer that starts and stops at once (or when `gate` resolves): the warm-up's timing is all these tests watch. */
function fakeConsumers(startError?: Error, gate?: Promise<void>): StreamConsumerFactory {
  const consumer = {
    start: () => (startError ? Promise.reject(startError) : (gate ?? Promise.resolve())),
    stop: () => Promise.resolve(),
    stopReading: () => undefined,
  } as unknown as StreamConsumer;
  return { create: () => consumer } as unknown as StreamConsumerFactory;
}

class WarmingWorker extends StreamWorker {
  warmUps = 0;

  constructor(
    consumers: StreamConsumerFactory,
    private readonly failWarmUp = false,
  ) {
    const dir = mkdtempSync(join(tmpdir(), 'stream-worker-spec-'));
    try {
      super('validator', consumers, loadConfig({ env: {}, configDir: dir }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  handle(): Promise<HandlerResult> {
    return Promise.resolve({ outcome: 'skipped' });
  }

  protected override warmUp(): void {
    this.warmUps += 1;
    if (this.failWarmUp) {
      throw new Error('warm-up failed');
    }
  }
}

describe('StreamWorker warm-up', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('warms up once, WARM_UP_DELAY_MS after the first start, not during it', async () => {
    const worker = new WarmingWorker(fakeConsumers());
    await worker.start(() => undefined);
    jest.advanceTimersByTime(WARM_UP_DELAY_MS - 1);
    expect(worker.warmUps).toBe(0);
    jest.advanceTimersByTime(1);
    expect(worker.warmUps).toBe(1);
  });

  it('does not warm up again when the supervisor restarts the worker', async () => {
    const worker = new WarmingWorker(fakeConsumers());
    await worker.start(() => undefined);
    jest.advanceTimersByTime(WARM_UP_DELAY_MS);
    await worker.stop(Date.now() + 1000);
    await worker.start(() => undefined);
    jest.advanceTimersByTime(10 * WARM_UP_DELAY_MS);
    expect(worker.warmUps).toBe(1);
  });

  it('skips the warm-up of a worker stopped before it was due, and warms at its next start', async () => {
    const worker = new WarmingWorker(fakeConsumers());
    await worker.start(() => undefined);
    await worker.stop(Date.now() + 1000);
    jest.advanceTimersByTime(10 * WARM_UP_DELAY_MS);
    expect(worker.warmUps).toBe(0);
    await worker.start(() => undefined);
    jest.advanceTimersByTime(WARM_UP_DELAY_MS);
    expect(worker.warmUps).toBe(1);
  });

  it('does not warm up a worker whose stop landed while its start finished', async () => {
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const worker = new WarmingWorker(fakeConsumers(undefined, gate));
    const starting = worker.start(() => undefined);
    const stopping = worker.stop(Date.now() + 1000);
    open();
    await starting;
    await stopping;
    jest.advanceTimersByTime(10 * WARM_UP_DELAY_MS);
    expect(worker.warmUps).toBe(0);
  });

  it('does not warm up a worker that failed to start', async () => {
    const worker = new WarmingWorker(fakeConsumers(new Error('NOPERM')));
    await expect(worker.start(() => undefined)).rejects.toThrow('NOPERM');
    jest.advanceTimersByTime(10 * WARM_UP_DELAY_MS);
    expect(worker.warmUps).toBe(0);
  });

  it('keeps a failing warm-up to itself: the first entry meets the failure instead', async () => {
    const worker = new WarmingWorker(fakeConsumers(), true);
    await worker.start(() => undefined);
    expect(() => jest.advanceTimersByTime(WARM_UP_DELAY_MS)).not.toThrow();
    expect(worker.warmUps).toBe(1);
  });
});
