import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freeLoopbackPort, throwawayRedisArgs } from '../src/redis/embedded-redis';

/** One RESP command. */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Whether a redis-server on `port` answers PING (after AUTH when it has a
 * password): up, and done loading its data (a loading server says LOADING).
 * A plain socket: an ioredis probe that meets a refused connection leaves a
 * 2 s timer behind on disconnect, which held every test file's exit.
 */
function answersPing(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    // Closed without an answer (a server shutting down, another program on the port).
    socket.once('close', () => done(false));
    socket.once('connect', () => {
      socket.write(`${password ? resp('AUTH', password) : ''}${resp('PING')}`);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const lines = reply.split('\r\n').filter((line) => line !== '');
      if (reply.endsWith('\r\n') && lines.length >= (password ? 2 : 1)) {
        done(lines[lines.length - 1] === '+PONG');
      }
    });
  });
}

/** A free TCP port on loopback, chosen by the kernel (the service's own helper). */
export const freePort = freeLoopbackPort;

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
  password?: string;
  /**
   * In its own process group, so it can outlive this process (see `keep`)
   * and a terminal's Ctrl-C reaches only its owner.
   */
  detached?: boolean;
  /**
   * A configuration file written into the server's folder and given first
   * on its command line, e.g. a sentinel's `sentinel monitor …` lines.
   * Written once, at the first start: a sentinel rewrites it as it learns.
   */
  config?: string;
  /** Starts it as a Sentinel (`redis-server <config> --sentinel`); needs `config`. */
  sentinel?: boolean;
}

/**
 * A real redis-server owned by one test file, on a free loopback port, with
 * its own data folder, so tests can stop, kill and restart it to test faults
 * without touching any shared instance.
 */
export class RedisServer {
  private process: ChildProcess | undefined;
  private configWritten = false;
  readonly dir = mkdtempSync(join(tmpdir(), 'printery-redis-'));

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    await server.start();
    return server;
  }

  get url(): string {
    const auth = this.options.password ? `:${this.options.password}@` : '';
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  /** A client for assertions; the caller quits it. */
  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: false });
  }

  /** The redis-server's pid while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  async start(): Promise<void> {
    const configFile = join(this.dir, 'redis.conf');
    if (this.options.config !== undefined && !this.configWritten) {
      writeFileSync(configFile, this.options.config);
      this.configWritten = true;
    }
    const args = [
      ...(this.options.config !== undefined ? [configFile] : []),
      ...(this.options.sentinel ? ['--sentinel'] : []),
      ...throwawayRedisArgs(this.port, this.dir),
      '--logfile',
      '',
      ...(this.options.password ? ['--requirepass', this.options.password] : []),
      ...(this.options.args ?? []),
    ];
    const child = spawn('redis-server', args, {
      stdio: 'ignore',
      detached: this.options.detached === true,
    });
    this.process = child;
    await this.waitUntil(
      () => answersPing(this.port, this.options.password),
      'redis-server did not start',
    );
  }

  /** Graceful stop (SHUTDOWN semantics via SIGTERM). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Abrupt death, as a crashed or OOM-killed server. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Leaves the server running after this process exits (`npm run demo --
   * --keep`): no longer stopped by `stop` or `dispose`, its folder kept.
   * Returns its pid, for the operator to stop it with `kill`.
   */
  keep(): number {
    const child = this.process;
    this.process = undefined;
    child?.unref();
    return child?.pid ?? 0;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  private async waitUntil(check: () => Promise<boolean>, message: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await check()) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(message);
  }
}
