import { check } from './checker';
import type { Expectation, History, PlannedDeployment, RunFacts, StageEvent } from './history';

let sequence = 0;
const nextId = (): string => `${1_700_000_000_000 + ++sequence}-0`;

function event(data: Record<string, unknown>, causationid?: string): StageEvent {
  const entryId = nextId();
  return { entryId, id: `evt-${entryId}`, ...(causationid ? { causationid } : {}), data };
}

/** The clean history of one deployment, each stage written once, as a healthy run leaves it. */
function pipeline(history: History, deploymentId: string, service: string, expect: Expectation) {
  const deployment = { deploymentId, service, environment: 'staging' };
  const started = event({ ...deployment });
  history.started.push(started);
  const validated = event(
    { deploymentId, valid: expect !== 'validation', deployment, startedId: started.entryId },
    started.id,
  );
  history.validated.push(validated);
  let terminal = validated;
  if (expect !== 'validation') {
    const checked = event(
      { deploymentId, satisfied: expect !== 'dependency', deployment, startedId: started.entryId },
      validated.id,
    );
    history.checked.push(checked);
    terminal = checked;
    if (expect !== 'dependency') {
      terminal = event({ deploymentId, healthy: expect === 'succeeded', deployment }, checked.id);
      history.probed.push(terminal);
      if (expect === 'succeeded') {
        const env = (history.registry.staging ??= {});
        env[service] = { version: '1.0.0', deploymentId, startedId: started.entryId };
      }
    }
  }
  const succeeded = expect === 'succeeded';
  history.notified.push(
    event(
      {
        deploymentId,
        outcome: succeeded ? 'succeeded' : 'failed',
        failedStage: succeeded ? null : expect,
      },
      terminal.id,
    ),
  );
  history.webhooks.push({ target: '/hook/default', deploymentId, idempotencyKey: terminal.id });
  return { started, validated, terminal };
}

function emptyHistory(): History {
  return {
    started: [],
    validated: [],
    checked: [],
    probed: [],
    notified: [],
    deadLetters: [],
    registry: {},
    groups: [{ stream: 's', group: 'printery-validator', pending: 0, lag: 0 }],
    webhooks: [],
  };
}

function facts(deployments: PlannedDeployment[], over: Partial<RunFacts> = {}): RunFacts {
  return {
    deployments,
    faults: [],
    processes: 3,
    concurrency: { validator: 1, dependency: 5, health: 10, notifier: 5 },
    maxDeliveries: 5,
    producerRetries: 0,
    unexpectedExits: [],
    ...over,
  };
}

const plan = (deploymentId: string, service: string, expect: Expectation): PlannedDeployment => ({
  deploymentId,
  service,
  environment: 'staging',
  expect,
  targets: ['/hook/default'],
});

/** A history of four deployments, one per outcome, and its plan. */
function cleanRun() {
  const history = emptyHistory();
  const planned: PlannedDeployment[] = [];
  const outcomes: Expectation[] = ['succeeded', 'validation', 'dependency', 'health'];
  outcomes.forEach((expect, i) => {
    pipeline(history, `dep-${i}`, `svc-${i}`, expect);
    planned.push(plan(`dep-${i}`, `svc-${i}`, expect));
  });
  return { history, planned };
}

describe('the chaos invariant checker', () => {
  it('finds nothing wrong with a clean history and counts its outcomes', () => {
    const { history, planned } = cleanRun();
    const report = check(history, facts(planned));
    expect(report.violations).toEqual([]);
    expect(report.outcomes).toEqual({ succeeded: 1, validation: 1, dependency: 1, health: 1 });
    expect(report.duplicates).toEqual({ validator: 0, dependency: 0, health: 0, notifier: 0 });
  });

  it('reports a lost deployment', () => {
    const { history, planned } = cleanRun();
    planned.push(plan('dep-lost', 'svc-lost', 'succeeded'));
    expect(check(history, facts(planned)).violations).toEqual([
      { invariant: 'outcome', deploymentId: 'dep-lost', detail: 'no terminal outcome (lost)' },
      { invariant: 'notification', deploymentId: 'dep-lost', detail: 'no notification:sent' },
    ]);
  });

  it('counts duplicates within the bound, and reports them past it', () => {
    const { history, planned } = cleanRun();
    const input = history.checked[0] as StageEvent;
    const { deployment } = (history.probed[0] as StageEvent).data;
    const again = () =>
      history.probed.push(event({ deploymentId: 'dep-0', healthy: true, deployment }, input.id));
    // One kill -9 allows as many duplicates at a stage as one process has in flight there.
    for (let i = 0; i < 10; i++) {
      again();
    }
    const oneKill = facts(planned, { faults: [{ kind: 'kill9', atMs: 1, process: 0 }] });
    expect(check(history, oneKill)).toMatchObject({
      duplicates: { health: 10 },
      duplicateBounds: { health: 10 },
      violations: [],
    });
    again();
    expect(check(history, oneKill).violations).toEqual([
      {
        invariant: 'duplicates',
        deploymentId: null,
        detail: 'health: 11 duplicate outputs, more than the 10 the faults allow',
      },
    ]);
    expect(check(history, facts(planned)).violations[0]).toMatchObject({ invariant: 'duplicates' });
  });

  it('reports a repeated webhook delivery no fault explains', () => {
    const { history, planned } = cleanRun();
    history.webhooks.push({ ...(history.webhooks[0] as History['webhooks'][number]) });
    expect(check(history, facts(planned)).violations).toEqual([
      {
        invariant: 'webhook-duplicates',
        deploymentId: null,
        detail: '1 repeated webhook deliveries, more than the 0 the faults allow',
      },
    ]);
  });

  it('reports a stage run past a failing one', () => {
    const { history, planned } = cleanRun();
    const refused = history.validated.find((e) => e.data.valid === false) as StageEvent;
    const checked = event({ deploymentId: 'dep-1', satisfied: true, deployment: {} }, refused.id);
    history.checked.push(checked);
    const violations = check(history, facts(planned)).violations;
    expect(violations).toContainEqual({
      invariant: 'causation',
      deploymentId: 'dep-1',
      detail: `dependency check ${checked.entryId} follows failing ${refused.entryId}`,
    });
  });

  it('reports an outcome other than planned, and several outcomes for one deployment', () => {
    const { history, planned } = cleanRun();
    (planned[3] as PlannedDeployment).expect = 'succeeded';
    const sick = history.checked[1] as StageEvent;
    history.probed.push(event({ deploymentId: 'dep-2', healthy: false, deployment: {} }, sick.id));
    const violations = check(history, facts(planned)).violations;
    expect(violations).toContainEqual({
      invariant: 'outcome',
      deploymentId: 'dep-3',
      detail: 'ended as health, planned succeeded',
    });
    expect(violations).toContainEqual({
      invariant: 'outcome',
      deploymentId: 'dep-2',
      detail: 'several outcomes: dependency, health',
    });
  });

  it('reports a registry gone backwards', () => {
    const { history, planned } = cleanRun();
    const older = history.registry.staging?.['svc-0'];
    const newer = pipeline(history, 'dep-0b', 'svc-0', 'succeeded');
    planned.push(plan('dep-0b', 'svc-0', 'succeeded'));
    (history.registry.staging as Record<string, unknown>)['svc-0'] = older;
    expect(check(history, facts(planned)).violations).toEqual([
      {
        invariant: 'registry',
        deploymentId: 'dep-0b',
        detail: `staging/svc-0 holds dep-0 (started ${older?.startedId}, older); the newest healthy is started ${newer.started.entryId}`,
      },
    ]);
  });

  it('reports entries left pending or unread, unexplained dead letters and unasked exits', () => {
    const { history, planned } = cleanRun();
    history.groups.push({ stream: 'x', group: 'printery-health', pending: 2, lag: 1 });
    history.deadLetters.push({
      stream: 'x',
      id: '1-0',
      worker: 'health',
      reason: 'max_deliveries',
      deliveryCount: 5,
    });
    const report = check(
      history,
      facts(planned, { unexpectedExits: [{ process: 1, code: 1, signal: null }] }),
    );
    expect(report.violations.map((v) => v.invariant)).toEqual([
      'pending',
      'dead-letter',
      'process',
    ]);
  });
});
