import type Redis from 'ioredis';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { cliEnv } from '../cli/cli-fixtures';
import { RedisServer, freePort } from '../../dev/redis-server';

// Real: the built CLI (dist/main.js) running all four workers as an ACL
// user that may XADD to every stream but the Validator's output, so every
// commit of the Validator is refused (NOPERM) while the rest of Redis works.

describe('a commit Redis refuses for good', () => {
  let redis: RedisServer;
  let admin: Redis;
  let app: CliProcess | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
  });

  afterEach(async () => {
    await app?.dispose();
    app = undefined;
  });

  afterAll(async () => {
    admin.disconnect();
    await redis.dispose();
  });

  /** Starts the service as a user denied XADD on validation:completed; publishes one deployment. */
  async function startRefused(env: NodeJS.ProcessEnv): Promise<{ proc: CliProcess; base: string }> {
    const shared = cliEnv(redis);
    const prefix = shared.STREAM_PREFIX;
    const user = `refuser-${prefix.split(':')[1]}`;
    const allowedXadd = ['deployment', 'dependency', 'health', 'notification']
      .map((stage) => `~${prefix}:${stage}:*`)
      .concat(`~${prefix}:dead-letter`);
    await admin.call(
      'ACL',
      'SETUSER',
      user,
      'on',
      '>secret-pw',
      '~*',
      '&*',
      '+@all',
      '-xadd',
      `(${allowedXadd.join(' ')} +xadd)`,
    );
    const port = await freePort();
    const proc = new CliProcess(['run'], {
      ...shared,
      REDIS_URL: `redis://${user}:secret-pw@127.0.0.1:${redis.port}`,
      PORT: String(port),
      ENVIRONMENT: 'development',
      LOG_LEVEL: 'info',
      CLAIM_IDLE_MS: '300',
      RESTART_BACKOFF_MS: '100',
      RESTART_BACKOFF_MAX_MS: '500',
      ...env,
    });
    app = proc;
    await proc.waitForEvent('service.listening', 30_000);
    await admin.xadd(
      `${prefix}:deployment:started`,
      '*',
      'id',
      'evt-1',
      'type',
      'deployment:started',
      'data',
      '{}',
    );
    return { proc, base: `http://127.0.0.1:${port}` };
  }

  it('standalone: the worker fails after a bounded number of attempts and the process exits 1', async () => {
    const { proc } = await startRefused({});
    const exit = await proc.waitForExit(60_000);
    expect(exit.code).toBe(1);
    const refused = proc.logs.find((l) => l.event === 'message.commit_refused');
    expect(refused).toMatchObject({ level: 'error', worker: 'validator', attempts: 5 });
    expect(proc.stdout).toMatch(/refused the commit of \S+deployment:started \S+ 5 times: NOPERM/);
    expect(proc.stdout).not.toContain('secret-pw');
  });

  it('supervised: the worker is restarted, then marked failed with the reason in /status', async () => {
    const { proc, base } = await startRefused({
      SUPERVISED_MODE: 'true',
      MAX_RESTART_ATTEMPTS: '2',
    });
    await proc.waitForLog((l) => l.event === 'worker.failed' && l.worker === 'validator', 60_000);
    expect(
      proc.logs.filter((l) => l.event === 'worker.restarting' && l.worker === 'validator'),
    ).toHaveLength(2);
    let validator: { state?: string; lastError?: string | null } = {};
    await eventually(async () => {
      const body = (await httpGet(`${base}/status`)).body as {
        workers: Array<{ name: string; state?: string; lastError?: string | null }>;
      };
      validator = body.workers.find((w) => w.name === 'validator') ?? {};
      return validator.state === 'failed';
    }, 10_000);
    expect(validator.lastError).toMatch(/refused the commit .* NOPERM/);
    expect(proc.child.exitCode).toBeNull();
  });
});
