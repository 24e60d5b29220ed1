import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { CliProcess } from '../helpers/cli-process';

const ROOT = resolve(__dirname, '..', '..');

/** `npm run demo -- --keep` without the npm and build steps around it (the suite built dist/). */
function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'scripts/demo.ts', ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`demo did not finish within 90s\n${output}`));
    }, 90_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/**
 * Real dependencies: the demo script as an operator runs it (it starts the
 * built CLI, a loopback health target and webhook sink, and with --keep a
 * redis-server of its own on a free loopback port), then the built CLI's
 * `status` against the Redis the demo left, as the README's next step does.
 */
describe('npm run demo -- --keep', () => {
  it('leaves its Redis running with the URL printed, so the README status step shows the demo', async () => {
    const demo = await runDemo(['--keep']);
    const kept = /Redis kept at (redis:\/\/127\.0\.0\.1:\d+) \(pid (\d+)\)/.exec(demo.output);
    try {
      expect(demo.code).toBe(0);
      expect(kept).not.toBeNull();
      expect(demo.output).not.toContain('NO REDIS AT THE DEFAULT URL');
      expect(demo.output).toContain(`REDIS_URL=${kept?.[1]} node dist/main.js status`);

      const status = await CliProcess.run(['status', '--json'], {
        REDIS_URL: kept?.[1],
        PORT: '9',
      });
      expect(status.code).toBe(0);
      const report = JSON.parse(status.stdout) as {
        groups: Array<{ worker: string; length: number }>;
        registry: Array<{ environment: string; services: number }>;
      };
      // Two deployments got through validation; the invalid one was refused before publishing.
      expect(report.groups.find((group) => group.worker === 'validator')?.length).toBe(2);
      expect(report.registry).toEqual([
        expect.objectContaining({ environment: 'staging', services: 2 }),
      ]);
    } finally {
      if (kept) {
        process.kill(Number(kept[2]), 'SIGTERM');
      }
    }
  });
});
