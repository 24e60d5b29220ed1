import { type ConnectionOptions, Queue, Worker } from 'bullmq';
import type { BenchChain, Payload } from './bench-chain';

/**
 * The peer a NestJS user would pick instead (`@nestjs/bullmq`): four BullMQ
 * queues, each Worker at the runtime's concurrency adding the next stage's
 * job from its handler, the fourth adding to a fifth queue that nothing
 * reads (as the runtime's notifier writes notification:sent). Jobs carry the
 * same ~300-byte payload. Completed jobs are removed (`removeOnComplete`),
 * BullMQ's lightest setting and what a high-volume user runs.
 */
/**
 * What a job carries: the payload inside the same CloudEvents attributes a
 * stream entry has, so both chains move about 300 bytes per event.
 */
function jobData(payload: Payload): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: `bench-${payload.deploymentId.padStart(12, '0')}-0000-4000-8000-000000000000`,
    type: 'deployment:started',
    source: 'bench',
    subject: payload.deploymentId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: payload,
  };
}

export class BullmqChain implements BenchChain {
  private readonly queues: Queue[];
  private readonly workers: Worker[] = [];
  private finished = 0;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private onFinal: (payload: Payload) => void = () => undefined;

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly concurrency: number,
  ) {
    this.queues = [0, 1, 2, 3, 4].map(
      (stage) => new Queue(`stage-${stage}`, { connection, prefix }),
    );
  }

  /** Adds `payloads` to the first queue, 1,000 per round trip; returns mean job bytes. */
  async prefill(payloads: Payload[]): Promise<number> {
    let bytes = 0;
    for (let start = 0; start < payloads.length; start += 1000) {
      const jobs = payloads.slice(start, start + 1000).map((payload) => {
        const data = jobData(payload);
        bytes += Buffer.byteLength(JSON.stringify(data));
        return { name: 'deploy', data, opts: { removeOnComplete: true } };
      });
      await (this.queues[0] as Queue).addBulk(jobs);
    }
    return bytes / Math.max(1, payloads.length);
  }

  publish(payload: Payload): void {
    void (this.queues[0] as Queue).add('deploy', jobData(payload), { removeOnComplete: true });
  }

  /** `onFinal` sees each job as the fourth stage completes it (next job added, completion written). */
  async start(onFinal?: (payload: Payload) => void): Promise<void> {
    if (onFinal) {
      this.onFinal = onFinal;
    }
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
          this.onFinal((job.data as { data: Payload }).data);
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

  /** Closes workers and queues, then empties its keys; resolves with how long the workers took to close. */
  async stop(): Promise<number> {
    const begun = performance.now();
    await Promise.all(this.workers.map((worker) => worker.close()));
    const stopMs = performance.now() - begun;
    await Promise.all(this.queues.map((queue) => queue.obliterate({ force: true })));
    await Promise.all(this.queues.map((queue) => queue.close()));
    return stopMs;
  }
}
