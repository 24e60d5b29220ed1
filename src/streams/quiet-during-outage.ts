import type { RedisOutage } from '../redis/redis-outage';
import { type ConsumerLogger, NOT_CONNECTED } from './consumer';

/**
 * What a consumer logs when a command fails only because Redis is away: a
 * read, a claim sweep, a keep-alive, a group recreation, a commit retry.
 * During an outage these repeat on every retry of every worker; RedisService
 * logs the outage once, so they are counted there instead (its "back" line
 * carries the counts).
 */
const OUTAGE_SYMPTOMS = new Set([
  'consumer.read_failed',
  'consumer.claim_failed',
  'consumer.command_timeout',
  'consumer.client_id_unavailable',
  'group.recreate_failed',
  'message.keepalive_failed',
  'message.commit_retry',
]);

/**
 * A consumer's logger that stays quiet about the symptoms of a Redis outage
 * while one lasts, and words a not-connected error in an operator's terms
 * when one slips outside it (a connection still reconnecting after the
 * others are back).
 */
export function quietDuringOutage(logger: ConsumerLogger, outage: RedisOutage): ConsumerLogger {
  const loud =
    (level: 'warn' | 'error') =>
    (fields: object, message: string): void => {
      const event = (fields as { event?: unknown }).event;
      if (typeof event === 'string' && OUTAGE_SYMPTOMS.has(event) && outage.absorb(event)) {
        return;
      }
      logger[level](inOperatorWords(fields), message);
    };
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: loud('warn'),
    error: loud('error'),
  };
}

function inOperatorWords(fields: object): object {
  const err = (fields as { err?: unknown }).err;
  if (!(err instanceof Error) || !NOT_CONNECTED.test(err.message)) {
    return fields;
  }
  const plain = new Error('not connected to Redis (the connection is reconnecting)', {
    cause: err.message,
  });
  plain.name = 'RedisNotConnected';
  return { ...fields, err: plain };
}
