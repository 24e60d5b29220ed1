import { formatAge, paint, renderTable, truncate } from './output';
import type { StatusReport } from './status-report';

/** The terminal form of a status report: tables, then what needs attention. */
export function renderReport(report: StatusReport, idleBound: number, maxLag: number): string {
  const out: string[] = [];
  // `Redis redis://…`, `Redis Cluster (seeds …)`, `Redis Sentinel master "m" (sentinels …)`.
  const where = report.topology === 'standalone' ? `Redis ${report.redis}` : report.redis;
  const owner = report.slotOwner ? `  ·  slot owned by ${report.slotOwner}` : '';
  out.push(`${where}${owner}  ·  streams ${report.streamPrefix}:*`);
  out.push(
    renderTable(
      ['worker', 'stream', 'length', 'pending', 'lag', 'oldest pending', 'consumers'],
      report.groups.map((group) => [
        group.worker,
        group.stream.slice(report.streamPrefix.length + 1),
        group.length,
        group.pending > 0 ? paint(String(group.pending), 'yellow') : '0',
        !group.exists
          ? paint('no group', 'red')
          : group.lag === null
            ? '?'
            : group.lag > maxLag
              ? paint(String(group.lag), 'red')
              : String(group.lag),
        formatAge(group.oldestPendingAgeMs),
        group.consumerList.length === 0
          ? '-'
          : group.consumerList
              .map((c) => {
                const line = `${c.name}: ${c.pending} pending, idle ${formatAge(c.idleMs)}`;
                return c.stuck ? paint(line, 'red') : line;
              })
              .join('\n'),
      ]),
    ),
  );
  const dead = report.deadLetters.count;
  out.push(
    `Dead letters: ${dead > 0 ? paint(String(dead), 'red') : '0'}  (${report.deadLetters.stream})`,
  );
  out.push(
    report.registry.length === 0
      ? 'Registry: empty'
      : `Registry: ${report.registry.map((r) => `${r.environment} ${r.services} service(s)`).join(', ')}`,
  );
  if (report.instance) {
    const instance = report.instance;
    out.push('');
    if (!instance.reachable && !instance.given) {
      out.push(
        paint(
          `No instance answers at ${instance.url} (localhost and PORT, the default): no worker states. Give --url http://host:port of a running service to see them.`,
          'dim',
        ),
      );
    } else if (!instance.reachable) {
      out.push(paint(`Instance ${instance.url}: not reachable (${instance.error ?? ''})`, 'red'));
    } else {
      if (instance.sameStreams === false) {
        out.push(
          paint(
            `The instance at ${instance.url} reads other streams than ${report.streamPrefix}:* (another STREAM_PREFIX): its workers are not this pipeline's.`,
            'yellow',
          ),
        );
      }
      out.push(
        `Instance ${instance.url}: ${instance.ready ? paint('ready', 'green') : paint('not ready', 'red')}${instance.shuttingDown ? ' (shutting down)' : ''}`,
      );
      out.push(
        renderTable(
          [
            'worker',
            'state',
            'restarts',
            'uptime',
            'in flight',
            'processed',
            'failed',
            'dead-lettered',
            'last error',
          ],
          instance.workers.map((w) => [
            w.name,
            w.state === 'running' && w.healthy ? paint(w.state, 'green') : paint(w.state, 'red'),
            w.restarts,
            formatAge(w.uptimeSeconds * 1000),
            w.inFlight,
            w.processed,
            w.failed,
            w.deadLettered,
            w.lastError ? truncate(w.lastError, 40) : '-',
          ]),
        ),
      );
    }
  }
  out.push('');
  if (report.attention.length === 0) {
    out.push(paint('OK: nothing needs attention', 'green'));
  } else {
    out.push(paint(`Needs attention (idle bound ${formatAge(idleBound)}):`, 'red'));
    for (const line of report.attention) {
      out.push(paint(`  - ${line}`, 'red'));
    }
  }
  return out.join('\n');
}
