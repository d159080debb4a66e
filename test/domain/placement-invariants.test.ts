// Placement invariants, property-tested: random peers (allowed or not, capacity, cost, region), weights
// (zero, fractional, up to the largest finite numbers), minimums, maximums and replicas, for every strategy,
// from a seeded generator (the seed of a failing case is in its message). Whatever the input: no share is
// negative or over its capacity or max, shares and unplaced add up to the replicas, unplaced is never
// negative, and a feasible plan places everything and honours every minimum.
import { describe, expect, it } from 'vitest';
import {
  MAX_REPLICAS,
  MAX_WEIGHT,
  PLACEMENT_STRATEGIES,
  planPlacement,
  type PlacementCandidate,
  type PlacementInput,
  type PlacementPolicy,
  type PlacementStrategy,
} from '../../src/domain/placement.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'ap-south-1'];
/** Weights the schema refuses but a stored deployment or a caller of the engine could still hold. */
const EXTREME_WEIGHTS = [1e308, Number.MAX_VALUE, 1e300, 5e-324, 1e-300, 3e15];

function generate(seed: number, strategy: PlacementStrategy): PlacementInput {
  const r = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const chance = (p: number): boolean => r() < p;

  const big = chance(0.15);
  const replicas = big ? int(0, MAX_REPLICAS) : int(0, 60);
  const peers: PlacementCandidate[] = Array.from({ length: int(0, 7) }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `peer-${String.fromCharCode(97 + int(0, 25))}${i}`,
    region: chance(0.15) ? null : pick(REGIONS),
    status: 'active',
    capacity: chance(0.1) ? null : chance(0.1) ? 0 : big && chance(0.5) ? int(0, MAX_REPLICAS) : int(0, 40),
    costPerInstance: chance(0.1) ? null : pick([0, 0.5, 1, 1, 2.25, 7]),
    allowed: chance(0.85),
    reasons: [],
  }));
  const refs = (): Record<string, number> => ({});
  const policy: PlacementPolicy = { strategy };
  if (strategy === 'weighted' && chance(0.75)) {
    const weights = refs();
    for (const p of peers) {
      if (chance(0.2)) continue;
      weights[chance(0.5) ? p.name : p.id] = chance(0.15)
        ? 0
        : chance(0.25)
          ? pick(EXTREME_WEIGHTS)
          : chance(0.3)
            ? r() * 10
            : int(1, MAX_WEIGHT);
    }
    policy.weights = weights;
  }
  if (strategy === 'geo_affinity') policy.regions = [pick(['eu', 'us-east-1', 'ap-south-1']), pick(REGIONS)];
  const min = refs();
  const max = refs();
  for (const p of peers) {
    const hasMax = chance(0.3);
    const maxValue = int(0, big ? MAX_REPLICAS : 30);
    if (hasMax) max[p.name] = maxValue;
    if (chance(0.25)) min[p.name] = Math.min(int(0, big ? replicas : 15), hasMax ? maxValue : MAX_REPLICAS);
  }
  if (Object.keys(min).length > 0) policy.min = min;
  if (Object.keys(max).length > 0) policy.max = max;
  return { replicas, peers, placement: policy };
}

const lookup = (map: Record<string, number> | undefined, c: PlacementCandidate): number | undefined =>
  map?.[c.id] ?? map?.[c.name];

/** Every invariant of one plan; throws with the seed, the input and the plan on the first one broken. */
function checkInvariants(seed: number, input: PlacementInput): void {
  const plan = planPlacement(input);
  const ensure = (holds: boolean, what: string): void => {
    if (!holds) {
      const detail = JSON.stringify({ input, plan });
      throw new Error(`seed ${seed} (${input.placement.strategy}): ${what}: ${detail}`);
    }
  };
  const byId = new Map(input.peers.map((c) => [c.id, c]));
  let assigned = 0;
  for (const share of plan.shares) {
    const c = byId.get(share.peer.id);
    ensure(c?.allowed === true, `${share.peer.name} is not allowed but has a share`);
    ensure(Number.isSafeInteger(share.replicas) && share.replicas >= 0, `${share.peer.name}: not a whole number >= 0`);
    ensure(c!.capacity === null || share.replicas <= c!.capacity, `${share.peer.name}: over its capacity`);
    const max = lookup(input.placement.max, c!);
    ensure(max === undefined || share.replicas <= max, `${share.peer.name}: over its max`);
    const min = lookup(input.placement.min, c!) ?? 0;
    ensure(!plan.feasible || share.replicas >= min, `${share.peer.name}: under its min in a feasible plan`);
    assigned += share.replicas;
  }
  ensure(Number.isSafeInteger(plan.unplaced) && plan.unplaced >= 0, 'unplaced is not a whole number >= 0');
  ensure(plan.unplaced === input.replicas - assigned, 'unplaced is not replicas - assigned');
  ensure(!plan.feasible || (assigned === input.replicas && plan.reasons.length === 0), 'feasible but not all placed');
  ensure(plan.unplaced === 0 || !plan.feasible, 'replicas unplaced but feasible');
  // Everything placed yet infeasible: only when a declared minimum cannot be honoured.
  ensure(
    plan.unplaced > 0 || plan.feasible || plan.reasons.every((r) => /needs at least|the minimums add up/.test(r)),
    'infeasible with everything placed, for a reason other than a minimum',
  );
}

describe('placement invariants (property test, seeded)', () => {
  it.each([...PLACEMENT_STRATEGIES])('hold for %s over 3,000 random inputs', (strategy) => {
    for (let seed = 1; seed <= 3_000; seed++) checkInvariants(seed, generate(seed, strategy));
  });

  it('place a 3-replica deployment over weights of 1e308 exactly (the reported overflow)', () => {
    const peer = (name: string): PlacementCandidate => ({
      id: `id-${name}`,
      name,
      region: 'eu-west-1',
      status: 'active',
      capacity: null,
      costPerInstance: null,
      allowed: true,
      reasons: [],
    });
    const plan = planPlacement({
      replicas: 3,
      peers: [peer('a'), peer('b'), peer('c')],
      placement: { strategy: 'weighted', weights: { a: 1e308, b: 1e308, c: 1 } },
    });
    expect(plan.shares.map((s) => s.replicas)).toEqual([2, 1, 0]);
    expect(plan).toMatchObject({ feasible: true, unplaced: 0 });
  });
});
