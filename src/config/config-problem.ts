/**
 * One problem in the configuration, with the settings (dotted paths, or a
 * prefix such as `supervisor`) it concerns. An empty list means it concerns
 * every command: a config file that does not parse spoils every value.
 */
export interface ConfigProblem {
  text: string;
  settings: readonly string[];
}

/** Where an effective value came from (SPEC §5 precedence: flag > environment > file > default). */
export type ValueSource =
  | { from: 'default' }
  | { from: 'file'; name: string }
  | { from: 'environment'; name: string }
  | { from: 'flag'; name: string };

/** How `config` prints a source: `default`, `file config/default.yaml`, `environment PORT`, `flag --port`. */
export function describeSource(source: ValueSource): string {
  return source.from === 'default' ? 'default' : `${source.from} ${source.name}`;
}

/**
 * Whether a problem matters to a command that uses `uses` (setting paths or
 * prefixes; undefined = every setting, as for `run` and `config`).
 */
export function problemApplies(
  problem: ConfigProblem,
  uses: readonly string[] | undefined,
): boolean {
  if (uses === undefined || problem.settings.length === 0) {
    return true;
  }
  return problem.settings.some((setting) =>
    uses.some(
      (used) =>
        setting === used || setting.startsWith(`${used}.`) || used.startsWith(`${setting}.`),
    ),
  );
}
