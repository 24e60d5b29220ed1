import { SHORT_SOAK_TIMEOUT_MS, expectShortSoakHolds } from './soak-case';

// Real: the short soak of soak.e2e-spec on the other topologies. Sentinel: a
// master, a replica and three sentinels; Cluster: three masters with a
// replica each. Their "Redis restart" stops the pipeline's master gracefully:
// the replica takes over and the old master comes back as its replica.

// A seed whose draw holds every fault kind, the master restart among them.
const SEED = 7;

describe('chaos soak (short) on Sentinel and Cluster', () => {
  it.each([['sentinel' as const], ['cluster' as const]])(
    'holds every invariant on %s',
    (topology) => expectShortSoakHolds(topology, SEED, ['redis-restart']),
    SHORT_SOAK_TIMEOUT_MS,
  );
});
