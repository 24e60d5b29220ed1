/**
 * The stream runtime's consumer: StreamConsumer and what it is built from.
 * The other files of this folder are its parts, not for use outside it:
 *
 * - reading: read-loop.ts (the loop, claim cadence, backoff), read-connection.ts
 *   (the blocking connection, CLIENT UNBLOCK)
 * - claiming: reclaimer.ts (XAUTOCLAIM), claim-keeper.ts (keep-alive of long handlers)
 * - handling: dispatcher.ts (one entry start to finish), task.ts, task-table.ts
 *   (slots, timeouts), dead-letters.ts, outcomes.ts (counters, metrics, log events)
 * - committing: commit-batcher.ts (the shared MULTI), commit-layout.ts,
 *   commit-replies.ts (reading EXEC's replies), committer.ts (retries, ownership)
 * - draining: drain.ts
 * - the rest: command-connection.ts, consumer-groups.ts, wiring.ts, contracts.ts
 */
export { StreamConsumer } from './stream-consumer';
export {
  type ConnectionFactory,
  type ConsumerHealth,
  type ConsumerLogger,
  type ConsumerMetrics,
  type ConsumerSettings,
  HandlerTimeoutError,
  type StreamConsumerOptions,
  type WorkerCounters,
} from './contracts';
export { ensureGroups } from './consumer-groups';
export { NOT_CONNECTED, isRedisUnreachable, sleep } from './redis-wait';
