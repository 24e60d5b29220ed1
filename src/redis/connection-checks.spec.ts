import { StartupError } from '../errors';
import { checkSelectedDb } from './connection-checks';
import type { RedisClient } from './connection-factory';
import { redisConfig } from './redis-config.harness';

const config = (url: string) => redisConfig({ url });

/** A client whose SELECT fails with `message` (Redis's reply mapping is the unit here). */
const refusing = (message: string): RedisClient =>
  ({ select: () => Promise.reject(new Error(message)) }) as unknown as RedisClient;

describe('checkSelectedDb', () => {
  it('names the db when Redis refuses it', async () => {
    const check = checkSelectedDb(
      refusing('ERR DB index is out of range'),
      config('redis://127.0.0.1:6379/99'),
      'redis://127.0.0.1:6379/99',
    );
    await expect(check).rejects.toThrow(StartupError);
    await expect(check).rejects.toThrow(/has no database 99/);
  });

  it('passes a lost connection on as it came, not as a missing db', async () => {
    const check = checkSelectedDb(
      refusing('Connection is closed.'),
      config('redis://127.0.0.1:6379/3'),
      'redis://127.0.0.1:6379/3',
    );
    await expect(check).rejects.toThrow('Connection is closed.');
    await expect(check).rejects.not.toThrow(/has no database/);
  });

  it('sends nothing for db 0', async () => {
    const select = jest.fn();
    await checkSelectedDb(
      { select } as unknown as RedisClient,
      config('redis://127.0.0.1:6379'),
      'redis://127.0.0.1:6379',
    );
    expect(select).not.toHaveBeenCalled();
  });
});
