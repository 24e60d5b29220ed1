import type { RedisOptions } from 'ioredis';
import { NOOP_TRACING } from '../../tracing/noop-tracing';
import { StreamTopology } from '../topology';
import { ClaimKeeper } from './claim-keeper';
import { COMMAND_TIMEOUT_MS, CommandConnection } from './command-connection';
import { CommitBatcher } from './commit-batcher';
import { Committer } from './committer';
import { ConsumerGroups } from './consumer-groups';
import type { StreamConsumerOptions } from './contracts';
import { DeadLetters } from './dead-letters';
import { Dispatcher } from './dispatcher';
import { Outcomes } from './outcomes';
import { ReadConnection } from './read-connection';
import { ReadLoop } from './read-loop';
import { Reclaimer } from './reclaimer';
import { TaskTable } from './task-table';

/** Options of both connections, over the factory's own. */
const CONNECTION_OPTIONS: RedisOptions = {
  autoResendUnfulfilledCommands: false,
  // Commands are only written while connected; anything queued offline
  // could be sent later, after we have already given up on it.
  enableOfflineQueue: false,
  // Lets the kernel notice a dead peer on an idle socket too.
  keepAlive: 10_000,
  maxRetriesPerRequest: null,
};

/** The parts StreamConsumer starts, stops and asks for its health. */
export interface ConsumerParts {
  outcomes: Outcomes;
  tasks: TaskTable;
  reads: ReadConnection;
  commands: CommandConnection;
  groups: ConsumerGroups;
  keeper: ClaimKeeper;
  loop: ReadLoop;
}

/** What the parts share with the consumer that owns them. */
export interface Owner {
  consumerName: string;
  /** Aborted at the stop deadline. */
  deadline: AbortSignal;
  /** True once stop() has been called. */
  stopping: () => boolean;
  /** Reports the consumer failed; the owner passes it on to onFailure once. */
  fail: (error: Error) => void;
}

/**
 * Builds one consumer's parts and connects them to each other, each seeing
 * the others only through the narrow context it declares. Both connections
 * are made here and connect lazily: nothing is opened before start().
 */
export function wireParts(options: StreamConsumerOptions, owner: Owner): ConsumerParts {
  const { spec, settings, logger: log, counters } = options;
  const { worker, group, streams } = spec;
  const { consumerName, deadline } = owner;
  const scope = { worker, group, consumerName, log };
  const { claimIdleMs, maxDeliveries } = settings;
  const topology = new StreamTopology(settings.prefix, settings.registryPrefix);
  const outcomes = new Outcomes(worker, options.metrics, counters, log, maxDeliveries);
  const tasks = new TaskTable(spec.concurrency, spec.handlerTimeoutMs, outcomes.inFlightGauge());
  const timeoutMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
  const read = options.connect(`printery:${worker}:read`, CONNECTION_OPTIONS);
  // All of a pipeline's streams share one slot in Cluster mode (SPEC §2): any of them names it.
  const reads = new ReadConnection(
    read,
    timeoutMs,
    log,
    worker,
    streams[0]?.stream ?? settings.prefix,
  );
  const commit = options.connect(`printery:${worker}:commit`, CONNECTION_OPTIONS);
  const commands = new CommandConnection(commit, timeoutMs, log, worker, owner.stopping);
  const batcher = new CommitBatcher(commands, group, deadline);
  const committer = new Committer({
    ...scope,
    commands,
    batcher,
    outcomes,
    watermarks: (counters.lastCommitted ??= new Map<string, string>()),
    deadline,
    fail: owner.fail,
  });
  const deadLetters = new DeadLetters({
    worker,
    group,
    maxDeliveries,
    deadLetterStream: topology.deadLetterStream,
    committer,
    outcomes,
    deadline,
  });
  const { dispatch } = new Dispatcher({
    spec,
    settings,
    topology,
    tasks,
    batcher,
    committer,
    deadLetters,
    outcomes,
    tracer: (options.tracing ?? NOOP_TRACING).forConsumer({ worker, group, consumerName }),
    deadline,
  });
  const reclaimer = new Reclaimer({
    ...scope,
    streams,
    claimIdleMs,
    commands,
    tasks,
    outcomes,
    dispatch,
  });
  const groups = new ConsumerGroups({
    ...scope,
    streams,
    commands,
    committer,
    reclaimer,
    outcomes,
  });
  const keeper = new ClaimKeeper({ ...scope, claimIdleMs, commands, tasks, outcomes });
  const loop = new ReadLoop({
    ...scope,
    streams,
    settings,
    reads,
    tasks,
    reclaimer,
    groups,
    batcher,
    outcomes,
    dispatch,
  });
  return { outcomes, tasks, reads, commands, groups, keeper, loop };
}
