import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A small Node program standing between the service and its throwaway
 * redis-server: it starts the server, then watches its standard input, a
 * pipe from the service. When the service dies, however it dies (a SIGKILL
 * included, which runs no exit handler), the kernel closes that pipe; the
 * watchdog then stops the server and removes its folder. SIGTERM stops it
 * the same way, for an orderly shutdown.
 *
 * argv: the redis-server binary, the data folder, then the server's arguments.
 * Run with `node -e` so it works the same from dist/ and from the sources.
 */
const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const { rmSync } = require('node:fs');
const [binary, dir, ...args] = process.argv.slice(1);
const server = spawn(binary, args, { stdio: 'ignore' });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), 3000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.on('error', () => process.exit(1));
server.on('exit', (code) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code === null ? 0 : code);
});
`;

/**
 * Starts redis-server under the watchdog. The returned child is the
 * watchdog: signal it to stop the server, await its exit for the server's.
 * Its own process group, so a terminal's Ctrl-C reaches only the service,
 * which drains its workers against a still-running Redis and then stops it.
 */
export function spawnWatchedRedis(binary: string, dir: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, binary, dir, ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    env: { PATH: process.env.PATH },
  });
  // Neither the child nor the pipe may keep this process alive; the pipe
  // only has to close when this process ends.
  child.unref();
  (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  child.stdin?.on('error', () => undefined);
  return child;
}
