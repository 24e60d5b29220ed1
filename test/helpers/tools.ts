import { execFile } from 'node:child_process';
import { findOnPath } from '../../src/redis/embedded-redis';

/** How .ci/run gets each outside tool the deploy/ tests run. */
const INSTALLED_BY: Record<string, string> = {
  promtool: 'apt-get install prometheus',
  prometheus: 'apt-get install prometheus',
};

/** Absolute path of `name` on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  return findOnPath(name, process.env);
}

/** Like findTool, but a missing tool fails the test, saying how CI installs it. */
export function requireTool(name: keyof typeof INSTALLED_BY): string {
  const path = findTool(name);
  if (!path) {
    throw new Error(
      `${name} is not installed: .ci/run installs it (${INSTALLED_BY[name]}); run that, or install it yourself`,
    );
  }
  return path;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion, bounded in time; a non-zero exit is a result, not an error. */
export function runTool(
  path: string,
  args: string[],
  options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      path,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${path} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
