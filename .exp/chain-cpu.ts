import { readFileSync } from 'node:fs';
import { RedisServer } from '../dev/redis-server';
import { runtimeChain } from '../bench/stream-chains';
const N = Number(process.env.N ?? 100000);
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
async function main() {
  const redis = await RedisServer.start();
  const rpid = Number((await redis.client().info('server')).match(/process_id:(\d+)/)![1]);
  for (let round = 0; round < Number(process.env.ROUNDS ?? 2); round++) {
    const chain = runtimeChain(redis.url, `exp${round}`, 100);
    const payloads = Array.from({ length: N }, (_, i) => ({ deploymentId: String(i), t0: 0, pad: 'x'.repeat(120) }));
    await chain.prefill(payloads as never);
    const r0 = cpuMs(rpid), n0 = process.cpuUsage(), t0 = performance.now();
    await chain.start();
    await chain.waitFinished(N, 120000);
    const wall = performance.now() - t0, n1 = process.cpuUsage(n0), r1 = cpuMs(rpid);
    console.log(`round ${round}: ${(N / wall * 1000).toFixed(0)} ev/s, wall ${wall.toFixed(0)} ms, node CPU ${((n1.user + n1.system) / 1000 / wall * 100).toFixed(0)}%, redis CPU ${((r1 - r0) / wall * 100).toFixed(0)}%`);
    await chain.stop();
  }
  await redis.dispose(); process.exit(0);
}
void main();
