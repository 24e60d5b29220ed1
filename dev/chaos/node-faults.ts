import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { askNode } from '../redis-admin';

/** Local TCP ports of the sockets process `pid` holds (Linux /proc), or undefined elsewhere. */
function localPortsOf(pid: number): Set<number> | undefined {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' });
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) {
        inodes.add(match[1] as string);
      }
    }
    const ports = new Set<number>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const columns = line.trim().split(/\s+/);
        if (columns.length > 9 && inodes.has(columns[9] as string)) {
          ports.add(parseInt((columns[1] as string).split(':')[1] as string, 16));
        }
      }
    }
    return ports;
  } catch {
    return undefined;
  }
}

/**
 * CLIENT KILL, on each node in `nodePorts` (data nodes and sentinels alike),
 * of every connection the service process `pid` holds there; of every
 * `printery` connection when its sockets cannot be told apart. Returns how many.
 */
export async function killClientsOf(nodePorts: number[], pid: number): Promise<number> {
  const ports = localPortsOf(pid);
  let killed = 0;
  for (const nodePort of nodePorts) {
    const list = String(await askNode(nodePort, 'CLIENT', 'LIST'));
    for (const line of list.split('\n')) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      const port = Number(/\baddr=[^ ]*:(\d+)/.exec(line)?.[1]);
      const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
      const theirs = ports ? ports.has(port) : name.startsWith('printery');
      if (id && theirs) {
        killed += Number(await askNode(nodePort, 'CLIENT', 'KILL', 'ID', id));
      }
    }
  }
  return killed;
}

/** CLIENT PAUSE … ALL on each node, at once: the pauses overlap as one. */
export async function pauseNodes(nodePorts: number[], ms: number): Promise<void> {
  await Promise.all(nodePorts.map((port) => askNode(port, 'CLIENT', 'PAUSE', ms, 'ALL')));
}
