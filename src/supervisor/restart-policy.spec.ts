import {
  type FailureAction,
  INITIAL_RESTART_STATE,
  RestartPolicy,
  type RestartSettings,
  type RestartState,
} from './restart-policy';

// Pure: the clock is a number the test moves, the jitter a pinned draw.

const SETTINGS: RestartSettings = {
  supervised: true,
  maxRestartAttempts: 3,
  restartBackoffMs: 1000,
  restartBackoffMaxMs: 5000,
  stablePeriodMs: 60_000,
};

const T0 = 1_700_000_000_000;

function policy(overrides: Partial<RestartSettings> = {}, jitter = 0): RestartPolicy {
  return new RestartPolicy({ ...SETTINGS, ...overrides }, () => jitter);
}

/** Fails the worker `times` times in a row, each restart succeeding, and returns the actions. */
function failRepeatedly(
  subject: RestartPolicy,
  times: number,
  from: RestartState = INITIAL_RESTART_STATE,
): { state: RestartState; actions: FailureAction[] } {
  let state = from;
  const actions: FailureAction[] = [];
  let now = T0;
  for (let i = 0; i < times; i += 1) {
    state = subject.decide(state, { type: 'running' }, now).state;
    now += 1000;
    const decision = subject.decide(state, { type: 'failed' }, now);
    state = decision.state;
    actions.push(decision.action);
  }
  return { state, actions };
}

describe('RestartPolicy', () => {
  describe('when a supervised worker fails', () => {
    it('restarts it after the base backoff, as attempt 1', () => {
      const { action, state } = policy().decide(INITIAL_RESTART_STATE, { type: 'failed' }, T0);
      expect(action).toEqual({ type: 'restart', attempt: 1, maxAttempts: 3, delayMs: 1000 });
      expect(state.attempts).toBe(1);
    });

    it('doubles the backoff on each consecutive failure, up to the cap', () => {
      const { actions } = failRepeatedly(policy({ maxRestartAttempts: 6 }), 6);
      expect(actions.map((a) => (a.type === 'restart' ? a.delayMs : a.type))).toEqual([
        1000, 2000, 4000, 5000, 5000, 5000,
      ]);
    });

    it('shortens each delay by the jitter draw, never lengthens it', () => {
      const { actions } = failRepeatedly(policy({}, 0.5), 3);
      expect(actions.map((a) => (a.type === 'restart' ? a.delayMs : a.type))).toEqual([
        900, 1800, 3600,
      ]);
    });

    it('gives up after exactly MAX_RESTART_ATTEMPTS consecutive failed restarts', () => {
      const { actions, state } = failRepeatedly(policy(), 4);
      expect(actions.map((a) => a.type)).toEqual(['restart', 'restart', 'restart', 'give-up']);
      expect(actions[3]).toEqual({ type: 'give-up', attempts: 3 });
      expect(state.attempts).toBe(3);
    });

    it('gives up at once when MAX_RESTART_ATTEMPTS is 0', () => {
      const { action } = policy({ maxRestartAttempts: 0 }).decide(
        INITIAL_RESTART_STATE,
        { type: 'failed' },
        T0,
      );
      expect(action).toEqual({ type: 'give-up', attempts: 0 });
    });

    it('leaves the state it was given untouched', () => {
      const state = Object.freeze({ attempts: 1, watchingSince: T0 });
      policy().decide(state, { type: 'failed' }, T0 + 10);
      policy().decide(state, { type: 'stability-check', healthy: true }, T0 + 60_000);
      expect(state).toEqual({ attempts: 1, watchingSince: T0 });
    });
  });

  describe('in standalone mode', () => {
    it('never restarts: the process drains and exits 1, whatever the count', () => {
      const subject = policy({ supervised: false });
      expect(subject.decide(INITIAL_RESTART_STATE, { type: 'failed' }, T0).action).toEqual({
        type: 'exit',
        exitCode: 1,
      });
      const { actions } = failRepeatedly(subject, 3);
      expect(actions.map((a) => a.type)).toEqual(['exit', 'exit', 'exit']);
    });
  });

  describe('while a restarted worker runs', () => {
    it('watches nothing before the first restart', () => {
      const { action } = policy().decide(INITIAL_RESTART_STATE, { type: 'running' }, T0);
      expect(action).toEqual({ type: 'none' });
    });

    it('asks for a stability check one stable period after a restarted worker runs', () => {
      const { state } = failRepeatedly(policy(), 1);
      const { action } = policy().decide(state, { type: 'running' }, T0);
      expect(action).toEqual({ type: 'check-stability', afterMs: 60_000 });
    });

    it('resets the count after a healthy stable period, so the next failure is attempt 1', () => {
      const subject = policy();
      let { state } = failRepeatedly(subject, 3);
      state = subject.decide(state, { type: 'running' }, T0).state;
      const check = subject.decide(state, { type: 'stability-check', healthy: true }, T0 + 60_000);
      expect(check.action).toEqual({ type: 'stable', attempts: 3 });
      expect(check.state.attempts).toBe(0);
      const next = subject.decide(check.state, { type: 'failed' }, T0 + 70_000);
      expect(next.action).toEqual({ type: 'restart', attempt: 1, maxAttempts: 3, delayMs: 1000 });
    });

    it('does not reset a count whose worker fails within the stable period', () => {
      const subject = policy({ maxRestartAttempts: 2 });
      let state = failRepeatedly(subject, 2).state;
      state = subject.decide(state, { type: 'running' }, T0).state;
      const { action } = subject.decide(state, { type: 'failed' }, T0 + 59_999);
      expect(action).toEqual({ type: 'give-up', attempts: 2 });
    });

    it('starts the period over when a check finds it unhealthy', () => {
      const subject = policy();
      let state = failRepeatedly(subject, 1).state;
      state = subject.decide(state, { type: 'running' }, T0).state;
      const unhealthy = subject.decide(
        state,
        { type: 'stability-check', healthy: false },
        T0 + 60_000,
      );
      expect(unhealthy.action).toEqual({ type: 'check-stability', afterMs: 60_000 });
      expect(unhealthy.state.attempts).toBe(1);
      const early = subject.decide(
        unhealthy.state,
        { type: 'stability-check', healthy: true },
        T0 + 100_000,
      );
      expect(early.action).toEqual({ type: 'check-stability', afterMs: 20_000 });
      const stable = subject.decide(
        early.state,
        { type: 'stability-check', healthy: true },
        T0 + 120_000,
      );
      expect(stable.action).toEqual({ type: 'stable', attempts: 1 });
    });

    it('ignores a stability check for a worker that is not running', () => {
      const { state } = failRepeatedly(policy(), 1);
      const { action } = policy().decide(state, { type: 'stability-check', healthy: true }, T0);
      expect(action).toEqual({ type: 'none' });
    });
  });

  describe('when the health loop finds a worker unhealthy', () => {
    it('treats it as a failure when Redis is up', () => {
      const { action } = policy().decide(
        INITIAL_RESTART_STATE,
        { type: 'unhealthy', redisReady: true, waitingForRedis: false },
        T0,
      );
      expect(action).toEqual({ type: 'fail' });
    });

    it.each([
      ['the shared client is down', { redisReady: false, waitingForRedis: false }],
      ['its own connection is reconnecting', { redisReady: true, waitingForRedis: true }],
    ])('waits, without counting an attempt, when %s', (_, facts) => {
      for (const supervised of [true, false]) {
        const state = { attempts: 2, watchingSince: T0 };
        const decision = policy({ supervised }).decide(
          state,
          { type: 'unhealthy', ...facts },
          T0 + 1,
        );
        expect(decision.action).toEqual({ type: 'wait-for-redis' });
        expect(decision.state).toEqual(state);
      }
    });
  });
});
