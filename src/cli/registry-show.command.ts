import { SubCommand } from 'nest-commander';
import { parseRegistryEntry, type RegistryEntry } from '../domain/registry-entry';
import { EXIT } from './exit-codes';
import { type CommandOptions, topologyOf, withRedis } from './one-shot';
import { isTerminal, paint, renderTable, writeJson, writeLine } from './output';
import { RegistryReadCommand, serviceTarget } from './registry-args';
import { registryEnvironments } from './registry-keys';

interface Shown {
  environment: string;
  service: string;
  /** The stored JSON as it is (fields a newer writer added included); null when unreadable. */
  value: Record<string, unknown> | null;
  entry: RegistryEntry | undefined;
  raw: string;
}

@SubCommand({
  name: 'show',
  arguments: '<service>',
  argsDescription: { service: 'service name (DNS-1123 label)' },
  description:
    'show one service entry in every environment that has it (or only --environment); exit 1 when absent',
})
export class RegistryShowCommand extends RegistryReadCommand {
  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const config = this.loadConfig();
    const { service, environment: only } = serviceTarget('show', args, options, config, false);
    const topology = topologyOf(config);
    const found = await withRedis(config, 'registry', async (redis) => {
      const environments =
        only === undefined
          ? await registryEnvironments(redis, topology)
          : [{ environment: only, key: topology.registryKey(only) }];
      const out: Shown[] = [];
      for (const { environment, key } of environments) {
        const raw = await redis.hget(key, service);
        if (raw !== null) {
          const entry = parseRegistryEntry(raw);
          out.push({ environment, service, value: entry ? readable(raw) : null, entry, raw });
        }
      }
      return out;
    });
    if (found.length === 0) {
      process.stderr.write(
        `printery-workers: ${service} is not in the registry${only === undefined ? ' of any environment' : ` of ${only}`}\n`,
      );
      return EXIT.runtimeFailure;
    }
    if (options.json === true || !isTerminal()) {
      writeJson(
        found.map((entry) => ({
          environment: entry.environment,
          service: entry.service,
          ...(entry.value ?? { invalid: true, raw: entry.raw }),
        })),
      );
      return EXIT.ok;
    }
    for (const entry of found) {
      writeLine(`${entry.service} in ${entry.environment}`);
      writeLine(
        renderTable(
          [],
          entry.value === null || entry.entry === undefined
            ? [['value', paint(`unreadable: ${entry.raw.slice(0, 200)}`, 'red')]]
            : Object.entries(entry.value).map(([field, value]) => [
                field,
                describe(field, value, entry.entry as RegistryEntry),
              ]),
        ),
      );
    }
    return EXIT.ok;
  }
}

/** The stored object as written, once parseRegistryEntry has accepted it. */
function readable(raw: string): Record<string, unknown> {
  return JSON.parse(raw) as Record<string, unknown>;
}

function describe(field: string, value: unknown, entry: RegistryEntry): string {
  if (field === 'dependencies') {
    return entry.dependencies.map((dep) => `${dep.service}@${dep.version}`).join(', ') || '-';
  }
  if (field === 'healthy') {
    return value === true ? paint('yes', 'green') : paint('no', 'red');
  }
  return value === null || value === undefined
    ? '-'
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
}
