import { refusedByRedis } from './committer';
import { passesByItself } from './redis-wait';

/** An error as ioredis hands a Redis error reply over. */
const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

describe('passesByItself', () => {
  it.each([
    'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    "READONLY You can't write against a read only replica.",
    'MOVED 10835 127.0.0.1:7102',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
    'LOADING Redis is loading the dataset in memory',
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    "Cluster isn't ready and enableOfflineQueue options is false",
  ])('retries %j with backoff instead of failing the worker', (message) => {
    expect(passesByItself(new Error(message))).toBe(true);
    expect(refusedByRedis(reply(message))).toBe(false);
  });

  it.each([
    'NOPERM User has no permissions to run the xadd command',
    'OOM command not allowed when used memory > maxmemory',
    'CROSSSLOT Keys in request do not hash to the same slot',
  ])('leaves %j to the refusal count', (message) => {
    expect(passesByItself(new Error(message))).toBe(false);
    expect(refusedByRedis(reply(message))).toBe(true);
  });
});
