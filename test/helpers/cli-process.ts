import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from '../../dev/redis-admin';

export const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

export interface LogLine {
  level?: string;
  event?: string;
  msg?: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The real, built CLI (`dist/main.js`) as a child process, as an operator or a
 * process manager runs it. Collects output, parses JSON log lines, and lets a
 * test wait for a log event, an HTTP answer or the exit.
 */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly logs: LogLine[] = [];
  readonly exited: Promise<Exit>;
  private listeners: Array<() => void> = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = {}, options: { cwd?: string } = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? resolve(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.stdout += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // Not a log line (command output); kept in stdout.
        }
      }
      this.notify();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.notify();
    });
    this.exited = new Promise((resolveExit) => {
      this.child.once('exit', (code, signal) => {
        this.notify();
        resolveExit({ code, signal });
      });
    });
  }

  /** Runs the CLI to completion (one-shot commands). */
  static async run(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    timeoutMs = 30_000,
  ): Promise<Exit & { stdout: string; stderr: string }> {
    const proc = new CliProcess(args, env);
    const exit = await proc.waitForExit(timeoutMs);
    return { ...exit, stdout: proc.stdout, stderr: proc.stderr };
  }

  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    return this.waitFor(() => this.logs.find(match), timeoutMs, 'log line');
  }

  waitForEvent(event: string, timeoutMs = 15_000): Promise<LogLine> {
    return this.waitForLog((line) => line.event === event, timeoutMs);
  }

  async waitForExit(timeoutMs = 15_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `process did not exit within ${timeoutMs}ms\n${this.stderr}\n${this.stdout.slice(-4000)}`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the process if still running; for afterEach. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        const found = find();
        if (found !== undefined) {
          cleanup();
          resolvePromise(found);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `no ${what} within ${timeoutMs}ms; stderr:\n${this.stderr}\nstdout tail:\n${this.stdout.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      const listener = (): void => {
        check();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
      };
      if (!check()) {
        this.listeners.push(listener);
      }
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }
}

/** GET with a short timeout; returns status and parsed body (or text). */
export async function httpGet(
  url: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: unknown; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Prometheus text and other plain bodies stay text.
  }
  return { status: response.status, body, text };
}

/** Polls until `check` returns true; bounded in time. */
export function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<void> {
  return waitFor(async () => check(), 'condition not met', timeoutMs, intervalMs);
}

/**
 * Runs the built CLI in a pseudo-terminal (util-linux `script`), so stdout
 * is a TTY as in an operator's shell. Ctrl-C is typed into the terminal once
 * `interruptWhen` holds for what it shows so far (not after a fixed time: a
 * loaded machine can take seconds just to start node), or never when the
 * command is expected to end by itself. Resolves with the exit code and
 * everything the terminal showed; bounded by `timeoutMs`.
 */
export function runInTerminal(
  args: string[],
  env: NodeJS.ProcessEnv,
  interruptWhen: (output: string) => boolean = () => false,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`);
  return new Promise((done, fail) => {
    // exec: the shell `script` starts must not stay in the terminal's
    // foreground group, or Ctrl-C ends it (130) instead of reaching the CLI.
    const child = spawn('script', ['-qec', `exec ${quoted.join(' ')}`, '/dev/null'], {
      cwd: resolve(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let interrupted = false;
    const seen = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!interrupted && interruptWhen(output)) {
        interrupted = true;
        // The terminal turns ^C into SIGINT for its foreground process, as for an operator.
        child.stdin?.write('\u0003');
      }
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`terminal run did not end within ${timeoutMs}ms\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}
