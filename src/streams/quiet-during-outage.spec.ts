import { RedisOutage } from '../redis/redis-outage';
import { quietDuringOutage } from './quiet-during-outage';

describe('quietDuringOutage', () => {
  const record = () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at =
      (level: string) =>
      (fields: object, message: string): void => {
        lines.push({ level, fields: fields as Record<string, unknown>, message });
      };
    return {
      lines,
      logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    };
  };

  it('counts the symptoms of an outage instead of logging them, and logs everything else', () => {
    const { lines, logger } = record();
    const outage = new RedisOutage();
    const log = quietDuringOutage(logger, outage);
    outage.lost('main');
    log.warn({ event: 'group.recreate_failed', worker: 'notifier' }, 'could not recreate');
    log.warn({ event: 'consumer.read_failed', worker: 'validator' }, 'stream read failed');
    log.warn({ event: 'group.recreated', worker: 'notifier' }, 'recreated');
    log.info({ event: 'consumer.started' }, 'started');
    expect(lines.map((line) => line.fields.event)).toEqual(['group.recreated', 'consumer.started']);
    expect(outage.back('main')?.repeats).toEqual({
      'group.recreate_failed': 1,
      'consumer.read_failed': 1,
    });
  });

  it("logs a symptom outside an outage, with the client library's wording replaced", () => {
    const { lines, logger } = record();
    const log = quietDuringOutage(logger, new RedisOutage());
    const err = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    log.warn({ event: 'group.recreate_failed', err }, 'could not recreate the consumer group');
    const logged = lines[0]?.fields.err as Error;
    expect(logged.message).toBe('not connected to Redis (the connection is reconnecting)');
    expect(logged.cause).toBe(err.message);
  });
});
