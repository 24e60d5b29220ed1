import { compareStreamIds } from '../../src/streams/stream-ids';
import {
  type Expectation,
  FAULT_KINDS,
  type FaultKind,
  type History,
  type RunFacts,
  STAGES,
  type Stage,
  type StageEvent,
} from './history';

/** One broken invariant, with the deployment it concerns when there is one. */
export interface Violation {
  invariant:
    | 'outcome'
    | 'notification'
    | 'causation'
    | 'duplicates'
    | 'webhook-duplicates'
    | 'pending'
    | 'dead-letter'
    | 'registry'
    | 'process';
  deploymentId: string | null;
  detail: string;
}

export interface Report {
  deployments: number;
  outcomes: Record<Expectation, number>;
  faults: Record<FaultKind, number>;
  /** Extra outputs (beyond the first) for one input, per stage; and what the faults allow. */
  duplicates: Record<Stage, number>;
  duplicateBounds: Record<Stage, number>;
  /** Extra successful deliveries to one target for one deployment; and what the faults allow. */
  webhookDuplicates: number;
  webhookBound: number;
  deadLetters: number;
  violations: Violation[];
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const deploymentOf = (event: StageEvent): string | null => text(event.data.deploymentId);

/** The outcome a terminal event stands for, or undefined when the event is not terminal. */
function terminalOutcome(stream: 'validated' | 'checked' | 'probed', event: StageEvent) {
  if (stream === 'validated') {
    return event.data.valid === false ? 'validation' : undefined;
  }
  if (stream === 'checked') {
    return event.data.satisfied === false ? 'dependency' : undefined;
  }
  return event.data.healthy === true ? 'succeeded' : 'health';
}

function byId(events: StageEvent[]): Map<string, StageEvent> {
  return new Map(events.map((event) => [event.id, event]));
}

/** Sum over inputs of (outputs − 1), outputs grouped by `keyOf`. */
function extraOutputs(outputs: StageEvent[], keyOf: (event: StageEvent) => string | undefined) {
  const counts = new Map<string, number>();
  for (const event of outputs) {
    const key = keyOf(event);
    if (key !== undefined) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  let extra = 0;
  for (const count of counts.values()) {
    extra += count - 1;
  }
  return extra;
}

/**
 * Checks a chaos run's history against the invariants of SPEC §1–§4: every
 * deployment ends in exactly one outcome (the planned one) with at least one
 * notification; every output follows from an input of the right stage, never
 * from a failing one; duplicates stay within what the faults could cause;
 * nothing is pending or lagging at the end; no dead letter the faults do not
 * explain; the registry holds each service's newest healthy deployment.
 */
export function check(history: History, facts: RunFacts): Report {
  const violations: Violation[] = [];
  const fail = (invariant: Violation['invariant'], deploymentId: string | null, detail: string) =>
    violations.push({ invariant, deploymentId, detail });

  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  for (const fault of facts.faults) {
    faults[fault.kind] += 1;
  }
  // Faults that can leave work half done in one process, or in every process at once.
  const oneProcess = faults.kill9 + faults['client-kill'];
  const everyProcess = faults['redis-restart'] + faults['client-pause'];
  const duplicateBounds = Object.fromEntries(
    STAGES.map((stage) => [
      stage,
      facts.concurrency[stage] * (oneProcess + facts.processes * everyProcess),
    ]),
  ) as Record<Stage, number>;

  const started = new Map(history.started.map((event) => [event.entryId, event]));
  const startedIds = new Set(history.started.map((event) => event.id));
  const validated = byId(history.validated);
  const checked = byId(history.checked);
  const probed = byId(history.probed);
  const planned = new Map(facts.deployments.map((d) => [d.deploymentId, d]));

  // ---- causation: each output follows from an input of its stage, never a failing one
  const follow = (
    events: StageEvent[],
    stage: string,
    inputOf: (event: StageEvent) => StageEvent | undefined,
    passes: (input: StageEvent) => boolean,
  ) => {
    for (const event of events) {
      const input = inputOf(event);
      if (!input) {
        fail(
          'causation',
          deploymentOf(event),
          `${stage} ${event.entryId} has no input ${event.causationid}`,
        );
      } else if (!passes(input)) {
        fail(
          'causation',
          deploymentOf(event),
          `${stage} ${event.entryId} follows failing ${input.entryId}`,
        );
      } else if (deploymentOf(input) !== null && deploymentOf(input) !== deploymentOf(event)) {
        fail(
          'causation',
          deploymentOf(event),
          `${stage} ${event.entryId} names another deployment than ${input.entryId}`,
        );
      }
    }
  };
  for (const event of history.validated) {
    const startedId = text(event.data.startedId);
    const input = startedId ? started.get(startedId) : undefined;
    if (
      !event.causationid ||
      !startedIds.has(event.causationid) ||
      (startedId && input?.id !== event.causationid)
    ) {
      fail(
        'causation',
        deploymentOf(event),
        `validation ${event.entryId} has no input ${event.causationid}`,
      );
    }
  }
  follow(
    history.checked,
    'dependency check',
    (e) => validated.get(e.causationid ?? ''),
    (i) => i.data.valid === true,
  );
  follow(
    history.probed,
    'health check',
    (e) => checked.get(e.causationid ?? ''),
    (i) => i.data.satisfied === true,
  );
  const terminalOf = (event: StageEvent) => {
    const id = event.causationid ?? '';
    const found =
      (validated.has(id) && (['validated', validated.get(id)] as const)) ||
      (checked.has(id) && (['checked', checked.get(id)] as const)) ||
      (probed.has(id) && (['probed', probed.get(id)] as const));
    return found
      ? {
          outcome: terminalOutcome(found[0], found[1] as StageEvent),
          event: found[1] as StageEvent,
        }
      : undefined;
  };
  for (const event of history.notified) {
    const cause = terminalOf(event);
    if (!cause) {
      fail(
        'causation',
        deploymentOf(event),
        `notification ${event.entryId} has no input ${event.causationid}`,
      );
      continue;
    }
    const expected =
      cause.outcome === undefined
        ? undefined
        : cause.outcome === 'succeeded'
          ? ['succeeded', null]
          : ['failed', cause.outcome];
    if (
      !expected ||
      event.data.outcome !== expected[0] ||
      (event.data.failedStage ?? null) !== expected[1]
    ) {
      fail(
        'causation',
        deploymentOf(event),
        `notification ${event.entryId} does not follow from ${cause.event.entryId}`,
      );
    }
  }

  // ---- outcome and notification: exactly one outcome, the planned one; at least one notification
  const outcomesOf = new Map<string, Set<Expectation>>();
  const addOutcome = (event: StageEvent, outcome: Expectation | undefined) => {
    const id = deploymentOf(event);
    if (id !== null && outcome !== undefined) {
      outcomesOf.set(id, (outcomesOf.get(id) ?? new Set()).add(outcome));
    }
  };
  history.validated.forEach((e) => addOutcome(e, terminalOutcome('validated', e)));
  history.checked.forEach((e) => addOutcome(e, terminalOutcome('checked', e)));
  history.probed.forEach((e) => addOutcome(e, terminalOutcome('probed', e)));
  const notifiedIds = new Set(history.notified.map(deploymentOf));
  const outcomes = { succeeded: 0, validation: 0, dependency: 0, health: 0 };
  for (const deployment of facts.deployments) {
    const seen = [...(outcomesOf.get(deployment.deploymentId) ?? [])];
    if (seen.length === 0) {
      fail('outcome', deployment.deploymentId, 'no terminal outcome (lost)');
    } else if (seen.length > 1) {
      fail('outcome', deployment.deploymentId, `several outcomes: ${seen.join(', ')}`);
    } else if (seen[0] !== deployment.expect) {
      fail('outcome', deployment.deploymentId, `ended as ${seen[0]}, planned ${deployment.expect}`);
    }
    if (seen.length === 1) {
      outcomes[seen[0] as Expectation] += 1;
    }
    if (!notifiedIds.has(deployment.deploymentId)) {
      fail('notification', deployment.deploymentId, 'no notification:sent');
    }
  }
  for (const id of outcomesOf.keys()) {
    if (!planned.has(id)) {
      fail('outcome', id, 'a deployment nobody published');
    }
  }

  // ---- duplicates: more than one output for one input, per stage
  const duplicates: Record<Stage, number> = {
    // Producer retries share the envelope id; each entry is its own input, told apart by startedId.
    validator: extraOutputs(history.validated, (e) => text(e.data.startedId) ?? e.causationid),
    dependency: extraOutputs(history.checked, (e) => e.causationid),
    health: extraOutputs(history.probed, (e) => e.causationid),
    notifier: extraOutputs(history.notified, (e) => e.causationid),
  };
  for (const stage of STAGES) {
    if (duplicates[stage] > duplicateBounds[stage]) {
      fail(
        'duplicates',
        null,
        `${stage}: ${duplicates[stage]} duplicate outputs, more than the ${duplicateBounds[stage]} the faults allow`,
      );
    }
  }
  const targets = Math.max(0, ...facts.deployments.map((d) => d.targets.length));
  const webhookBound =
    targets *
    (STAGES.reduce((sum, stage) => sum + duplicateBounds[stage], 0) + facts.producerRetries);
  const webhookDuplicates = extraOutputs(
    history.webhooks.map((w) => ({
      entryId: '',
      id: '',
      data: {},
      causationid: `${w.target} ${w.deploymentId}`,
    })),
    (e) => e.causationid,
  );
  if (webhookDuplicates > webhookBound) {
    fail(
      'webhook-duplicates',
      null,
      `${webhookDuplicates} repeated webhook deliveries, more than the ${webhookBound} the faults allow`,
    );
  }

  // ---- nothing pending, no lag
  for (const group of history.groups) {
    if (group.pending > 0 || (group.lag ?? 0) > 0) {
      fail(
        'pending',
        null,
        `${group.group} on ${group.stream}: ${group.pending} pending, lag ${group.lag}`,
      );
    }
  }

  // ---- dead letters: only repeated crashes while an entry was in flight explain one
  const crashes = oneProcess + everyProcess;
  for (const letter of history.deadLetters) {
    const explained = letter.reason === 'max_deliveries' && crashes >= facts.maxDeliveries - 1;
    if (!explained) {
      fail(
        'dead-letter',
        null,
        `${letter.worker} dead-lettered ${letter.stream} ${letter.id} (${letter.reason}, ${letter.deliveryCount} deliveries)`,
      );
    }
  }

  // ---- registry: the newest healthy deployment of each service
  const newest = new Map<string, { deploymentId: string | null; startedId: string }>();
  for (const event of history.probed) {
    const deployment = event.data.deployment as
      { environment?: unknown; service?: unknown } | undefined;
    const startedId = text(checked.get(event.causationid ?? '')?.data.startedId);
    if (event.data.healthy !== true || !startedId || !deployment) {
      continue;
    }
    const key = `${String(deployment.environment)}/${String(deployment.service)}`;
    const best = newest.get(key);
    if (!best || compareStreamIds(startedId, best.startedId) > 0) {
      newest.set(key, { deploymentId: deploymentOf(event), startedId });
    }
  }
  for (const [key, best] of newest) {
    const [environment, service] = key.split('/') as [string, string];
    const stored = history.registry[environment]?.[service];
    if (!stored) {
      fail('registry', best.deploymentId, `${key} is not in the registry`);
    } else if (stored.startedId !== best.startedId) {
      const when =
        stored.startedId === null || compareStreamIds(stored.startedId, best.startedId) < 0
          ? 'older'
          : 'unknown';
      fail(
        'registry',
        best.deploymentId,
        `${key} holds ${stored.deploymentId} (started ${stored.startedId}, ${when}); the newest healthy is started ${best.startedId}`,
      );
    }
  }

  for (const exit of facts.unexpectedExits) {
    fail(
      'process',
      null,
      `service process ${exit.process} exited unasked (code ${exit.code}, signal ${exit.signal})`,
    );
  }

  return {
    deployments: facts.deployments.length,
    outcomes,
    faults,
    duplicates,
    duplicateBounds,
    webhookDuplicates,
    webhookBound,
    deadLetters: history.deadLetters.length,
    violations,
  };
}
