/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and sums self
 * time per function and per file or package, optionally only the samples
 * taken inside a window of the monotonic clock (`process.hrtime`, the clock
 * V8 stamps samples with), so a profile of a whole process can show just
 * its burst. No external tools: the file is JSON (nodes, samples,
 * timeDeltas).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** µs, monotonic clock. */
  startTime: number;
  endTime: number;
  samples: number[];
  /** µs between consecutive samples (the first from startTime). */
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the window's non-idle samples. */
  percent: number;
}

export interface ProfileSummary {
  /** Busy ms in the window (samples other than `(idle)`). */
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** µs on the clock V8 stamps profile samples with. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Where a frame's code lives, short: `node_modules/<package>` for a
 * dependency, the path under `root` for the service's own files, `node:…`
 * for Node's internals, and V8's pseudo-frames ((garbage collector),
 * (program), (idle)) as themselves.
 */
function fileOf(frame: CallFrame, root: string): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') {
    return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    const name = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    return `node_modules/${name}`;
  }
  return url.startsWith('/') ? relative(root, url) : url;
}

function ranked(totals: Map<string, number>, busyMs: number, limit: number): SelfTime[] {
  return [...totals.entries()]
    .map(([name, ms]) => ({ name, ms, percent: busyMs > 0 ? (100 * ms) / busyMs : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, limit);
}

/**
 * Self time of the samples in [fromMicros, toMicros] (the whole profile
 * when omitted), top `limit` functions and files. A sample's time is the
 * delta to the next one, as DevTools counts it.
 */
export function summarizeProfile(
  path: string,
  root: string,
  limit: number,
  window?: { fromMicros: number; toMicros: number },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i] ?? 0;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (window && (at < window.fromMicros || at > window.toMicros)) {
      continue;
    }
    const frame = frames.get(profile.samples[i] as number);
    if (!frame) {
      continue;
    }
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const file = fileOf(frame, root);
    const name = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
  }
  return {
    busyMs,
    idleMs,
    functions: ranked(byFunction, busyMs, limit),
    files: ranked(byFile, busyMs, limit),
  };
}

/** The summary as text: busy/idle, then the two rankings. */
export function formatSummary(summary: ProfileSummary): string {
  const rows = (items: SelfTime[]): string =>
    items
      .map(
        (item) =>
          `  ${item.percent.toFixed(1).padStart(5)}%  ${item.ms.toFixed(0).padStart(6)} ms  ${item.name}`,
      )
      .join('\n');
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms (main thread, sampled)`,
    'top self time by function:',
    rows(summary.functions),
    'top self time by file or package:',
    rows(summary.files),
  ].join('\n');
}
