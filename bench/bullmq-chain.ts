import { type ConnectionOptions, Queue, Worker } from 'bullmq';

/**
 * The peer a NestJS user would pick instead (`@nestjs/bullmq`): four BullMQ
 * queues, each Worker at the runtime's concurrency adding the next stage's
 * job from its handler, the fourth adding to a fifth queue that nothing
 * reads (as the runtime's notifier writes notification:sent). Jobs carry the
 * same ~300-byte payload. Completed jobs are removed (`removeOnComplete`),
 * BullMQ's lightest setting and what a high-volume user runs.
 */
export class BullmqChain {
  private readonly queues: Queue[];
  private readonly workers: Worker[] = [];
  private finished = 0;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];

  /**
   * @param onFinal called with each job's data as the fourth stage completes
   *   it (its next job added and its own completion written), for latency.
   */
  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly concurrency: number,
    private readonly onFinal: (data: { t0: number }) => void = () => undefined,
  ) {
    this.queues = [0, 1, 2, 3, 4].map(
      (stage) => new Queue(`stage-${stage}`, { connection, prefix }),
    );
  }

  /** Adds `payloads` to the first queue, 1,000 per round trip; returns mean job bytes. */
  async prefill(payloads: Array<Record<string, unknown>>): Promise<number> {
    let bytes = 0;
    for (let start = 0; start < payloads.length; start += 1000) {
      const jobs = payloads.slice(start, start + 1000).map((data) => {
        bytes += Buffer.byteLength(JSON.stringify(data));
        return { name: 'deploy', data, opts: { removeOnComplete: true } };
      });
      await (this.queues[0] as Queue).addBulk(jobs);
    }
    return bytes / Math.max(1, payloads.length);
  }

  /** One job into the first queue, not awaited by the caller's schedule. */
  publish(data: Record<string, unknown>): Promise<unknown> {
    return (this.queues[0] as Queue).add('deploy', data, { removeOnComplete: true });
  }

  async start(): Promise<void> {
    for (let stage = 0; stage < 4; stage += 1) {
      const next = this.queues[stage + 1] as Queue;
      const worker = new Worker(
        `stage-${stage}`,
        async (job) => {
          await next.add('deploy', job.data, { removeOnComplete: true });
        },
        {
          connection: this.connection,
          prefix: this.prefix,
          concurrency: this.concurrency,
          removeOnComplete: { count: 0 },
        },
      );
      if (stage === 3) {
        worker.on('completed', (job) => {
          this.finished += 1;
          this.onFinal(job.data as { t0: number });
          for (let i = this.waiters.length - 1; i >= 0; i -= 1) {
            const waiter = this.waiters[i] as { count: number; resolve: () => void };
            if (this.finished >= waiter.count) {
              this.waiters.splice(i, 1);
              waiter.resolve();
            }
          }
        });
      }
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  /** Resolves once `count` jobs have passed all four stages, or rejects after `timeoutMs`. */
  waitFinished(count: number, timeoutMs: number): Promise<void> {
    if (this.finished >= count) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`BullMQ chain finished ${this.finished}/${count} within ${timeoutMs}ms`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Closes workers and queues; returns how long the (idle) stop took in ms. */
  async stop(): Promise<number> {
    const begun = performance.now();
    await Promise.all(this.workers.map((worker) => worker.close()));
    const stopMs = performance.now() - begun;
    await Promise.all(this.queues.map((queue) => queue.close()));
    return stopMs;
  }
}
