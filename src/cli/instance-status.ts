import { redactText } from '../logging/redact';

export interface InstanceWorker {
  name: string;
  state: string;
  healthy: boolean;
  restarts: number;
  uptimeSeconds: number;
  inFlight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  lastError: string | null;
}

/** A running service's own view (`GET /status`), as `status` shows it. */
export interface InstanceStatus {
  url: string;
  /** false when the URL is the default one (localhost and PORT), not given with --url. */
  given: boolean;
  reachable: boolean;
  error?: string;
  ready?: boolean;
  shuttingDown?: boolean;
  /**
   * false when the instance reads other streams than this command's
   * (another STREAM_PREFIX): its workers say nothing about this pipeline.
   */
  sameStreams?: boolean;
  workers: InstanceWorker[];
}

export function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** GET /status of the instance at `raw`; never throws (an unreachable instance is a finding). */
export async function fetchInstance(
  raw: string,
  given: boolean,
  inputStream: string,
): Promise<InstanceStatus> {
  const url = new URL('/status', raw).toString();
  const shown = redactText(raw);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) {
      return { url: shown, given, reachable: false, error: `HTTP ${response.status}`, workers: [] };
    }
    const body = (await response.json()) as {
      ready?: boolean;
      shuttingDown?: boolean;
      workers?: unknown;
      streams?: unknown;
    };
    const workers = Array.isArray(body.workers) ? (body.workers as InstanceWorker[]) : [];
    const streams = Array.isArray(body.streams)
      ? (body.streams as Array<{ stream?: unknown }>)
      : [];
    return {
      url: shown,
      given,
      reachable: true,
      ready: body.ready,
      shuttingDown: body.shuttingDown,
      // An instance that cannot reach Redis lists no streams; give it the benefit of the doubt.
      sameStreams: streams.length === 0 || streams.some((entry) => entry.stream === inputStream),
      workers: workers.map((worker) => ({
        name: String(worker.name),
        state: String(worker.state),
        healthy: worker.healthy !== false,
        restarts: Number(worker.restarts ?? 0),
        uptimeSeconds: Number(worker.uptimeSeconds ?? 0),
        inFlight: Number(worker.inFlight ?? 0),
        processed: Number(worker.processed ?? 0),
        failed: Number(worker.failed ?? 0),
        deadLettered: Number(worker.deadLettered ?? 0),
        lastError: worker.lastError ? redactText(String(worker.lastError)) : null,
      })),
    };
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
    return {
      url: shown,
      given,
      reachable: false,
      error: redactText(cause ?? (error as Error).message),
      workers: [],
    };
  }
}
