/**
 * The stream runtime's consumer: StreamConsumer and what it is built from.
 * The other files of this folder are its parts, not for use outside it.
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
