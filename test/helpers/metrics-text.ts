/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of a scrape (comments skipped). */
export function parseSamples(text: string): Sample[] {
  return text.split('\n').flatMap((line): Sample[] => {
    const match = SAMPLE.exec(line);
    if (!match || line.startsWith('#')) {
      return [];
    }
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(LABEL)].map((m) => [m[1] as string, m[2] as string]),
    );
    return [{ name: match[1] as string, labels, value: Number(match[3]) }];
  });
}

/** The value of the first sample of `name` carrying all of `labels`, or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return parseSamples(text).find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

/**
 * Every series name a scrape can hold: each `# TYPE` family, with the
 * `_bucket`, `_sum` and `_count` series of histograms and summaries.
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!match) {
      continue;
    }
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    const suffixes = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] };
    for (const suffix of suffixes[type as keyof typeof suffixes] ?? []) {
      names.add(`${name}${suffix}`);
    }
  }
  return names;
}
