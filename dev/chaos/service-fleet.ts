import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../redis-server';
import type { ProcessExit } from './history';

const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

/** Polls GET /health/ready until 200; bounded. */
async function waitReady(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
        signal: AbortSignal.timeout(1000),
      });
      if (response.status === 200) {
        return true;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** One service process (the built `dist/main.js run`), restartable, its output in a log file. */
class ServiceProcess {
  child: ChildProcess | undefined;
  /** Set while we stop it on purpose, so its exit is not a crash. */
  private expected = false;
  private exited: Promise<ProcessExit> = Promise.resolve({ process: 0, code: 0, signal: null });
  port = 0;

  constructor(
    readonly index: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly onCrash: (exit: ProcessExit) => void,
  ) {}

  /** Running and once answered ready: faults aim only at these, not at one still booting. */
  ready = false;

  get up(): boolean {
    return this.child !== undefined;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  async start(): Promise<boolean> {
    this.port = await freePort();
    if (this.retired) {
      // The fleet stopped while this start waited for a port: a process spawned
      // now would outlive the run (and keep jest from exiting).
      return false;
    }
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [CLI, 'run', '--port', String(this.port)], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    this.expected = false;
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        const exit = { process: this.index, code, signal };
        this.child = undefined;
        this.ready = false;
        // Killed by the signal we sent (SIGTERM before its handlers were in place counts too).
        const clean = this.expected && (signal !== null || code === 0);
        if (!clean) {
          this.onCrash(exit);
        }
        done(exit);
      });
    });
    this.ready = await waitReady(this.port, 30_000);
    return this.ready;
  }

  /** Set by the fleet's stop: no start spawns anything after it. */
  retired = false;

  /** Sends `signal` and waits for the exit (SIGTERM: a drain of at most SHUTDOWN_TIMEOUT_MS). */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    if (!this.child) {
      return;
    }
    this.expected = true;
    this.child.kill(signal);
    await this.exited;
  }
}

/**
 * N service processes side by side on one Redis, as replicas run. An exit
 * nobody asked for is recorded (the checker reports it) and the process is
 * started again, so the run goes on.
 */
export class ServiceFleet {
  readonly processes: ServiceProcess[];
  readonly unexpectedExits: ProcessExit[] = [];
  private closing = false;

  constructor(size: number, env: NodeJS.ProcessEnv, logDir: string) {
    this.processes = Array.from(
      { length: size },
      (_, i) =>
        new ServiceProcess(i, env, join(logDir, `service-${i}.log`), (exit) => {
          this.unexpectedExits.push(exit);
          // Checked again when the timer fires: a crash just before stop() must not start a
          // process after the fleet has stopped (it would outlive the run).
          setTimeout(() => {
            if (!this.closing) {
              void this.processes[i]?.start();
            }
          }, 1000).unref();
        }),
    );
  }

  async start(): Promise<void> {
    const ready = await Promise.all(this.processes.map((p) => p.start()));
    if (!ready.every(Boolean)) {
      throw new Error('a service process did not become ready within 30 s (see its log)');
    }
  }

  /** Index of a running process chosen by `pick`, or undefined when none runs. */
  running(pick: (count: number) => number): ServiceProcess | undefined {
    const up = this.processes.filter((p) => p.up && p.ready);
    return up.length === 0 ? undefined : up[pick(up.length)];
  }

  async stop(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.processes.map((p) => {
        p.retired = true;
        return p.stop('SIGTERM');
      }),
    );
    // A start already past its check spawned during the stop: kill what is left.
    await Promise.all(this.processes.filter((p) => p.up).map((p) => p.stop('SIGKILL')));
  }
}
