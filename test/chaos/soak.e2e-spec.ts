import { Random } from '../../dev/chaos/random';
import { SHORT_SOAK_TIMEOUT_MS, expectShortSoakHolds } from './soak-case';

// Real: three built service processes (dist/main.js), one redis-server with
// AOF, flaky loopback health target and webhook sink, faults of every kind
// from the seed. The short form of `npm run chaos`, checked by the same checker.

const FIXED_SEED = 20_240_614;
const RANDOM_SEED = Random.freshSeed();

describe('chaos soak (short)', () => {
  it.each([
    ['a fixed seed', FIXED_SEED],
    ['a random seed', RANDOM_SEED],
  ])(
    'holds every invariant under %s (%d)',
    (_name, seed) => expectShortSoakHolds('standalone', seed),
    SHORT_SOAK_TIMEOUT_MS,
  );
});
