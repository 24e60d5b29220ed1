import { randomUUID } from 'node:crypto';
import { LoopbackSink } from '../../dev/loopback-sink';
import { eventually, httpGet } from '../helpers/cli-process';
import { startService, stopService } from '../cli/cli-fixtures';
import {
  type AnyRedis,
  notificationAudit,
  notificationsPerDeployment,
  publishDeployments,
  topologyOf,
  unfinishedGroups,
} from '../helpers/pipeline-load';

export const DEPLOYMENTS = 200;
/** The fault strikes after this many deployments are published, the rest following. */
const FAULT_AFTER = 50;

export interface FailoverOutcome {
  /** Empty when every deployment was notified, nothing is pending and readiness is back. */
  problems: string[];
  duplicates: number;
  publishRetries: number;
}

/**
 * One service process on `topologyEnv`'s Redis; 200 deployments published
 * one by one (retried through the fault), `fault` started after the 50th
 * without holding up the rest; then, bounded: every deployment notified,
 * nothing pending or unread in any group, /health/ready 200 again.
 * Duplicates are counted, not refused: replication is asynchronous (SPEC §2).
 */
export async function failoverScenario(options: {
  client: AnyRedis;
  topologyEnv: NodeJS.ProcessEnv;
  health: LoopbackSink;
  sink: LoopbackSink;
  /** Given a key of the pipeline (its slot is the pipeline's). */
  fault: (pipelineKey: string) => Promise<void>;
}): Promise<FailoverOutcome> {
  const id = randomUUID().slice(0, 8);
  const env = {
    ...options.topologyEnv,
    // One hash tag: in Cluster mode every key of the pipeline shares a slot.
    STREAM_PREFIX: `{failover-${id}}:events`,
    REGISTRY_PREFIX: `failover-${id}:registry`,
    HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_WEBHOOK_URLS: `${options.sink.base}/hook`,
    // Entries whose commit the failover lost stay pending: reclaim them soon.
    CLAIM_IDLE_MS: '2000',
  };
  const topology = topologyOf(env);
  const { proc, url } = await startService(env);
  try {
    const runId = `failover-${id}`;
    let fault: Promise<void> | undefined;
    let faultOver = false;
    const { retries } = await publishDeployments(
      options.client,
      topology,
      runId,
      DEPLOYMENTS,
      `${options.health.base}/ok`,
      async (i) => {
        if (i === FAULT_AFTER - 1) {
          fault = options.fault(topology.deadLetterStream);
          fault.then(
            () => (faultOver = true),
            () => (faultOver = true),
          );
        }
        // Spread over a few seconds, so work is in flight when the fault strikes.
        await new Promise((resolve) => setTimeout(resolve, 10));
      },
      // Until the fault is over the master may die at any instant: each
      // deployment is on the replica before it counts (after it, the
      // promoted master may have no replica left).
      () => (faultOver ? 0 : 1),
    );
    const problems: string[] = [];
    await fault?.catch((error: unknown) => {
      problems.push(`the fault failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    // What is still missing at the end is reported below, not thrown here.
    await eventually(
      async () => (await notificationsPerDeployment(options.client, topology)).size >= DEPLOYMENTS,
      120_000,
      250,
    ).catch(() => undefined);
    await eventually(
      async () => (await unfinishedGroups(options.client, topology)).length === 0,
      30_000,
      250,
    ).catch(() => undefined);
    const ready = await eventually(
      async () => (await httpGet(`${url}/health/ready`)).status === 200,
      30_000,
    ).then(
      () => true,
      () => false,
    );
    const { missing, duplicates } = notificationAudit(
      await notificationsPerDeployment(options.client, topology),
      runId,
      DEPLOYMENTS,
    );
    if (missing.length > 0) {
      problems.push(`${missing.length} never notified (${missing.slice(0, 5).join(', ')})`);
    }
    problems.push(...(await unfinishedGroups(options.client, topology)));
    if (!ready) {
      problems.push('/health/ready did not answer 200 again');
    }
    return { problems, duplicates, publishRetries: retries };
  } finally {
    await stopService(proc).catch(() => proc.dispose());
  }
}

/** 'ok', or the problems with the duplicates and retries: what a failing test shows. */
export function verdict(outcome: FailoverOutcome): string {
  return outcome.problems.length === 0
    ? 'ok'
    : `${outcome.problems.join('; ')} — duplicates ${outcome.duplicates}, publish retries ${outcome.publishRetries}`;
}

/**
 * The loopback health target and webhook sink a failover suite needs,
 * started before its tests and closed after them; read them inside a test.
 */
export function useFailoverSinks(): { readonly health: LoopbackSink; readonly sink: LoopbackSink } {
  let health: LoopbackSink | undefined;
  let sink: LoopbackSink | undefined;
  beforeAll(async () => {
    health = await LoopbackSink.start({ record: false });
    sink = await LoopbackSink.start({ record: false });
  });
  afterAll(async () => {
    await Promise.all([health?.close(), sink?.close()]);
  });
  const started = (s: LoopbackSink | undefined): LoopbackSink => {
    if (!s) {
      throw new Error('the failover sinks are not started yet (use them inside a test)');
    }
    return s;
  };
  return {
    get health() {
      return started(health);
    },
    get sink() {
      return started(sink);
    },
  };
}
