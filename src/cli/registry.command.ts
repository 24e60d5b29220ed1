import { Command, Option, SubCommand } from 'nest-commander';
import semver from 'semver';
import type { DependencySpec } from '../domain/deployment';
import { parseRegistryEntry, type RegistryEntry } from '../domain/registry-entry';
import { EXIT } from './exit-codes';
import {
  CommandGroup,
  type CommandOptions,
  OneShotCommand,
  stringOption,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import { isTerminal, paint, renderTable, writeJson, writeLine } from './output';
import {
  checkEnvironment,
  checkService,
  REGISTRY_USES,
  RegistryReadCommand,
  serviceTarget,
} from './registry-args';
import { registryEnvironments } from './registry-keys';
import { RegistryShowCommand } from './registry-show.command';

/** Parses `svc@range,svc2@range` (a bare `svc` means any version). */
export function parseDependsOn(raw: string, problems: string[]): DependencySpec[] {
  const out: DependencySpec[] = [];
  for (const item of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const at = item.indexOf('@');
    const service = at === -1 ? item : item.slice(0, at);
    const range = at === -1 ? '*' : item.slice(at + 1);
    checkService(service, `--depends-on ${JSON.stringify(item)}`, problems);
    if (at !== -1 && range.trim() === '') {
      // semver reads an empty range as '*'; a trailing '@' is more likely a typo than "any version".
      problems.push(
        `--depends-on ${JSON.stringify(item)}: no range after "@"; expected e.g. ${service || 'auth-api'}@^2.0.0, or ${service || 'auth-api'} alone for any version`,
      );
    } else if (semver.validRange(range) === null) {
      problems.push(
        `--depends-on ${JSON.stringify(item)}: ${JSON.stringify(range)} is not a valid semver range; expected e.g. auth-api@^2.0.0`,
      );
    }
    if (out.some((dep) => dep.service === service)) {
      problems.push(`--depends-on: ${service} is listed twice`);
    }
    out.push({ service, version: range });
  }
  return out;
}

@SubCommand({
  name: 'list',
  description: 'list registry entries, of one environment or of all',
})
export class RegistryListCommand extends RegistryReadCommand {
  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const config = this.loadConfig();
    const problems: string[] = [];
    if (args.length > 0) {
      problems.push(`registry list: unexpected argument "${args[0]}"`);
    }
    checkEnvironment(stringOption(options, 'environment'), config, problems, false);
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const topology = topologyOf(config);
    const rows = await withRedis(config, 'registry', async (redis) => {
      const only = stringOption(options, 'environment');
      const environments =
        only === undefined
          ? await registryEnvironments(redis, topology)
          : [{ environment: only, key: topology.registryKey(only) }];
      const out: Array<{ environment: string; service: string; entry: RegistryEntry | null }> = [];
      for (const { environment, key } of environments) {
        const hash = await redis.hgetall(key);
        for (const service of Object.keys(hash).sort()) {
          out.push({
            environment,
            service,
            entry: parseRegistryEntry(hash[service] ?? '') ?? null,
          });
        }
      }
      return out;
    });
    if (options.json === true || !isTerminal()) {
      writeJson(
        rows.map((row) => ({
          environment: row.environment,
          service: row.service,
          ...(row.entry ?? { invalid: true }),
        })),
      );
      return EXIT.ok;
    }
    if (rows.length === 0) {
      writeLine('registry is empty');
      return EXIT.ok;
    }
    writeLine(
      renderTable(
        ['environment', 'service', 'version', 'healthy', 'depends on', 'deployment', 'updated'],
        rows.map(({ environment, service, entry }) =>
          entry
            ? [
                environment,
                service,
                entry.version,
                entry.healthy ? paint('yes', 'green') : paint('no', 'red'),
                entry.dependencies.map((d) => `${d.service}@${d.version}`).join(', ') || '-',
                entry.deploymentId ?? '-',
                entry.updatedAt ?? '-',
              ]
            : [environment, service, paint('unreadable value', 'red'), '', '', '', ''],
        ),
      ),
    );
    return EXIT.ok;
  }
}

@SubCommand({
  name: 'set',
  arguments: '<service> <version>',
  argsDescription: { service: 'service name (DNS-1123 label)', version: 'semver version' },
  description: 'add or replace a service entry in one environment',
})
export class RegistrySetCommand extends OneShotCommand {
  protected override readonly uses = REGISTRY_USES;

  @Option({ flags: '--environment <name>', description: 'deployment environment (required)' })
  parseEnvironment(value: string): string {
    return value;
  }

  @Option({
    flags: '--depends-on <list>',
    description: 'dependencies as svc@range,… (e.g. auth-api@^2.0.0,db)',
  })
  parseDependsOn(value: string): string {
    return value;
  }

  @Option({ flags: '--unhealthy', description: 'mark the entry unhealthy (default: healthy)' })
  parseUnhealthy(): boolean {
    return true;
  }

  @Option({
    flags: '--deployment-id <id>',
    description: 'deployment that produced this version (default: none)',
  })
  parseDeploymentId(value: string): string {
    return value;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const config = this.loadConfig();
    const problems: string[] = [];
    const [service, version, extra] = args;
    if (extra !== undefined) {
      problems.push(`registry set: unexpected argument "${extra}"`);
    }
    checkService(service, 'SERVICE', problems);
    if (version === undefined || semver.valid(version) === null) {
      problems.push(
        `VERSION: ${JSON.stringify(version ?? '')} is not valid; expected a semver version such as 1.4.2`,
      );
    }
    checkEnvironment(stringOption(options, 'environment'), config, problems, true);
    const dependsOn = stringOption(options, 'dependsOn');
    const dependencies = dependsOn === undefined ? [] : parseDependsOn(dependsOn, problems);
    if (service !== undefined && dependencies.some((dep) => dep.service === service)) {
      problems.push(`--depends-on: ${service} cannot depend on itself`);
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const environment = stringOption(options, 'environment') as string;
    const entry: Omit<RegistryEntry, 'startedId'> = {
      // Canonical form ("v2.1.0" -> "2.1.0"): one spelling per version in the registry.
      version: semver.valid(version) as string,
      deploymentId: stringOption(options, 'deploymentId') ?? null,
      dependencies,
      healthy: options.unhealthy !== true,
      updatedAt: new Date().toISOString(),
    };
    const topology = topologyOf(config);
    const key = topology.registryKey(environment);
    const created = await withRedis(config, 'registry', async (redis) => {
      // An id of this write's own time, on the clock stream ids come from
      // (Redis's, not this machine's): deployments started before it stay
      // older, any started after it may replace it.
      const [seconds, micros] = (await redis.time()).map(Number) as [number, number];
      const startedId = `${seconds * 1000 + Math.floor(micros / 1000)}-0`;
      return redis.hset(key, service as string, JSON.stringify({ ...entry, startedId }));
    });
    writeLine(
      `${created === 1 ? 'added' : 'updated'} ${service}@${entry.version} in ${environment} (${entry.healthy ? 'healthy' : 'unhealthy'})`,
    );
    return EXIT.ok;
  }
}

@SubCommand({
  name: 'remove',
  arguments: '<service>',
  description: 'remove a service entry from one environment (exit 1 when absent)',
})
export class RegistryRemoveCommand extends OneShotCommand {
  protected override readonly uses = REGISTRY_USES;

  @Option({ flags: '--environment <name>', description: 'deployment environment (required)' })
  parseEnvironment(value: string): string {
    return value;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const config = this.loadConfig();
    const target = serviceTarget('remove', args, options, config, true);
    const { service } = target;
    const environment = target.environment as string;
    const key = topologyOf(config).registryKey(environment);
    const removed = await withRedis(config, 'registry', (redis) => redis.hdel(key, service));
    if (removed === 0) {
      process.stderr.write(`printery-workers: ${service} is not in the ${environment} registry\n`);
      return EXIT.runtimeFailure;
    }
    writeLine(`removed ${service} from ${environment}`);
    return EXIT.ok;
  }
}

@Command({
  name: 'registry',
  description: 'inspect and seed the service registry (list, show, set, remove)',
  subCommands: [
    RegistryListCommand,
    RegistryShowCommand,
    RegistrySetCommand,
    RegistryRemoveCommand,
  ],
})
export class RegistryCommand extends CommandGroup {}
