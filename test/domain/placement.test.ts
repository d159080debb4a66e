// The placement engine without I/O: each strategy's shares, min/max, rounding, capacity caps, hard
// constraints, infeasible placements, and determinism.
import { describe, expect, it } from 'vitest';
import {
  planPlacement,
  type PlacementCandidate,
  type PlacementPolicy,
  type PlacementResult,
} from '../../src/domain/placement.js';

function peer(name: string, over: Partial<PlacementCandidate> = {}): PlacementCandidate {
  return {
    id: `id-${name}`,
    name,
    region: 'eu-west-1',
    status: 'active',
    capacity: 100,
    costPerInstance: 1,
    allowed: true,
    reasons: [],
    ...over,
  };
}

function shares(result: PlacementResult): Record<string, number> {
  return Object.fromEntries(result.shares.map((s) => [s.peer.name, s.replicas]));
}

const plan = (replicas: number, peers: PlacementCandidate[], placement: PlacementPolicy): PlacementResult =>
  planPlacement({ replicas, peers, placement });

describe('weighted placement', () => {
  it('follows explicit weights', () => {
    const r = plan(60, [peer('a'), peer('b'), peer('c')], { strategy: 'weighted', weights: { a: 3, b: 2, c: 1 } });
    expect(r.feasible).toBe(true);
    expect(shares(r)).toEqual({ a: 30, b: 20, c: 10 });
    expect(r.unplaced).toBe(0);
  });

  it('weighs every peer equally when no weights are given', () => {
    expect(shares(plan(9, [peer('a'), peer('b'), peer('c')], { strategy: 'weighted' }))).toEqual({ a: 3, b: 3, c: 3 });
  });

  it('rounds by largest remainder so the shares sum exactly, ties by name', () => {
    const r = plan(10, [peer('c'), peer('a'), peer('b')], { strategy: 'weighted' });
    expect(shares(r)).toEqual({ a: 4, b: 3, c: 3 });
    const s = plan(100, [peer('a'), peer('b'), peer('c')], { strategy: 'weighted', weights: { a: 1, b: 1, c: 1.2 } });
    expect(Object.values(shares(s)).reduce((x, y) => x + y, 0)).toBe(100);
    expect(shares(s)).toEqual({ a: 31, b: 31, c: 38 });
  });

  it('honours per-peer min and max: minimums first, the rest by weight', () => {
    const r = plan(100, [peer('a'), peer('b'), peer('c')], {
      strategy: 'weighted',
      weights: { a: 1, b: 1, c: 8 },
      min: { a: 20 },
      max: { c: 50 },
    });
    // a's 20 first; c's weighted 64 of the other 80 capped at 50; the last 30 halved between a and b.
    expect(shares(r)).toEqual({ a: 35, b: 15, c: 50 });
    expect(r.shares.find((s) => s.peer.name === 'c')!.why).toContain('max 50');
  });

  it('never gives a peer more than its capacity; the overflow goes to the others', () => {
    const r = plan(100, [peer('a', { capacity: 10 }), peer('b', { capacity: 200 })], { strategy: 'weighted' });
    expect(shares(r)).toEqual({ a: 10, b: 90 });
  });

  it('gives nothing to a peer left out of the weights', () => {
    expect(shares(plan(10, [peer('a'), peer('b')], { strategy: 'weighted', weights: { a: 1 } }))).toEqual({
      a: 10,
      b: 0,
    });
  });

  it('accepts peers by id as well as by name', () => {
    const r = plan(4, [peer('a'), peer('b')], { strategy: 'weighted', weights: { 'id-a': 3, b: 1 } });
    expect(shares(r)).toEqual({ a: 3, b: 1 });
  });
});

describe('geo_affinity placement', () => {
  const peers = [
    peer('paris', { region: 'eu-west-3', capacity: 30 }),
    peer('dublin', { region: 'eu-west-1', capacity: 20 }),
    peer('virginia', { region: 'us-east-1', capacity: 100 }),
    peer('oregon', { region: 'us-west-2', capacity: 100 }),
  ];

  it('fills the preferred regions in order, each up to its capacity', () => {
    const r = plan(60, peers, { strategy: 'geo_affinity', regions: ['eu-west-1', 'eu-west-3', 'us-east-1'] });
    expect(shares(r)).toEqual({ dublin: 20, paris: 30, virginia: 10, oregon: 0 });
    expect(r.shares.find((s) => s.peer.name === 'dublin')!.score).toBe(1);
    expect(r.shares.find((s) => s.peer.name === 'oregon')!.score).toBe(0);
  });

  it('counts sub-regions as inside a region and splits a region by capacity', () => {
    const r = plan(25, peers, { strategy: 'geo_affinity', regions: ['eu'] });
    expect(shares(r)).toEqual({ dublin: 10, paris: 15, virginia: 0, oregon: 0 });
  });

  it('falls back to other regions when the preferred ones are full', () => {
    const r = plan(150, peers, { strategy: 'geo_affinity', regions: ['eu-west-1'] });
    expect(r.feasible).toBe(true);
    expect(shares(r).dublin).toBe(20);
    expect(Object.values(shares(r)).reduce((x, y) => x + y, 0)).toBe(150);
  });

  it('requires regions', () => {
    expect(() => plan(1, peers, { strategy: 'geo_affinity' })).toThrow(/regions is required/);
  });
});

describe('resource_based placement', () => {
  it('follows each peer’s capacity', () => {
    const r = plan(50, [peer('a', { capacity: 60 }), peer('b', { capacity: 30 }), peer('c', { capacity: 10 })], {
      strategy: 'resource_based',
    });
    expect(shares(r)).toEqual({ a: 30, b: 15, c: 5 });
    expect(r.shares.map((s) => s.score)).toEqual([1, 0.5, 0.167]);
  });

  it('is capped by capacity: more replicas than instances is infeasible, with the unplaced count', () => {
    const r = plan(50, [peer('a', { capacity: 20 }), peer('b', { capacity: 10 })], { strategy: 'resource_based' });
    expect(shares(r)).toEqual({ a: 20, b: 10 });
    expect(r.unplaced).toBe(20);
    expect(r.feasible).toBe(false);
    expect(r.reasons[0]).toContain('20 of 50 replicas fit nowhere');
  });

  it('excludes a peer that never reported its capacity', () => {
    const r = plan(10, [peer('a', { capacity: null }), peer('b', { capacity: 10 })], { strategy: 'resource_based' });
    expect(shares(r)).toEqual({ b: 10 });
    expect(r.excluded).toEqual([{ peer: { id: 'id-a', name: 'a' }, reasons: [expect.stringContaining('capacity')] }]);
  });
});

describe('cost_optimized placement', () => {
  const peers = [
    peer('dear', { costPerInstance: 3, capacity: 100 }),
    peer('cheap', { costPerInstance: 0.5, capacity: 30 }),
    peer('mid-a', { costPerInstance: 1, capacity: 20 }),
    peer('mid-b', { costPerInstance: 1, capacity: 20 }),
  ];

  it('fills the cheapest first, up to capacity, equal costs split by capacity', () => {
    const r = plan(60, peers, { strategy: 'cost_optimized' });
    expect(shares(r)).toEqual({ cheap: 30, 'mid-a': 15, 'mid-b': 15, dear: 0 });
    expect(r.shares.find((s) => s.peer.name === 'cheap')!.score).toBe(1);
    expect(r.shares.find((s) => s.peer.name === 'dear')!.why).toContain('cost 3');
  });

  it('goes to the dearer peers only when the cheaper are full', () => {
    expect(shares(plan(100, peers, { strategy: 'cost_optimized' }))).toEqual({
      cheap: 30,
      'mid-a': 20,
      'mid-b': 20,
      dear: 30,
    });
  });

  it('excludes a peer that reported no cost', () => {
    const r = plan(5, [...peers, peer('silent', { costPerInstance: null })], { strategy: 'cost_optimized' });
    expect(r.excluded.map((e) => e.peer.name)).toEqual(['silent']);
  });
});

describe('hard constraints and infeasible placements', () => {
  it('gives an excluded peer nothing, whatever its weight or min, and says why', () => {
    const r = plan(
      10,
      [peer('a', { allowed: false, reasons: ['data residency keeps deployments in eu'] }), peer('b')],
      { strategy: 'weighted', weights: { a: 100, b: 1 }, min: { a: 5 } },
    );
    expect(r.feasible).toBe(true);
    expect(shares(r)).toEqual({ b: 10 });
    expect(r.excluded[0]!.reasons).toEqual(['data residency keeps deployments in eu', 'its min of 5 is not honoured']);
  });

  it('is infeasible with a reason per peer when no peer may receive a share', () => {
    const r = plan(
      10,
      [
        peer('a', { allowed: false, reasons: ['peer is lost_contact, not active'] }),
        peer('b', { allowed: false, reasons: ['boundary rule r1 drops deployments.assign'] }),
      ],
      { strategy: 'resource_based' },
    );
    expect(r.feasible).toBe(false);
    expect(r.unplaced).toBe(10);
    expect(r.shares).toEqual([]);
    expect(r.excluded.map((e) => [e.peer.name, e.reasons])).toEqual([
      ['a', ['peer is lost_contact, not active']],
      ['b', ['boundary rule r1 drops deployments.assign']],
    ]);
    expect(r.reasons).toEqual(['no peer may receive a share']);
  });

  it('is infeasible when the minimums exceed the replicas', () => {
    const r = plan(10, [peer('a'), peer('b')], { strategy: 'weighted', min: { a: 6, b: 6 } });
    expect(r.feasible).toBe(false);
    expect(r.reasons[0]).toContain('minimums add up to 12');
    expect(r.unplaced).toBe(10);
  });

  it('is infeasible when a min is above what a peer can take', () => {
    const r = plan(10, [peer('a', { capacity: 3 }), peer('b')], { strategy: 'weighted', min: { a: 5 } });
    expect(r.feasible).toBe(false);
    expect(r.reasons).toContain('a needs at least 5 but can take at most 3');
  });

  it('places zero replicas trivially', () => {
    const r = plan(0, [peer('a')], { strategy: 'weighted' });
    expect(r).toMatchObject({ feasible: true, unplaced: 0, shares: [{ replicas: 0 }] });
  });

  it('refuses a policy naming an unknown peer, a min above its max, or options of another strategy', () => {
    expect(() => plan(1, [peer('a')], { strategy: 'weighted', weights: { zz: 1 } })).toThrow(/names zz/);
    expect(() => plan(1, [peer('a')], { strategy: 'weighted', min: { a: 3 }, max: { a: 2 } })).toThrow(/above its max/);
    expect(() => plan(1, [peer('a')], { strategy: 'cost_optimized', weights: { a: 1 } })).toThrow(/weighted strategy/);
    expect(() => plan(1, [peer('a')], { strategy: 'weighted', regions: ['eu'] })).toThrow(/geo_affinity/);
    expect(() => plan(-1, [peer('a')], { strategy: 'weighted' })).toThrow(/replicas/);
  });
});

describe('determinism', () => {
  it('gives the same answer whatever order the peers come in', () => {
    const peers = Array.from({ length: 12 }, (_, i) =>
      peer(`p${String(i).padStart(2, '0')}`, { capacity: 7 + (i % 3), costPerInstance: 1 + (i % 2) }),
    );
    for (const strategy of ['weighted', 'resource_based', 'cost_optimized'] as const) {
      const first = plan(37, peers, { strategy });
      const reversed = plan(37, [...peers].reverse(), { strategy });
      expect(reversed).toEqual(first);
      expect(first.shares.map((s) => s.peer.name)).toEqual(peers.map((p) => p.name));
      expect(first.shares.reduce((x, s) => x + s.replicas, 0)).toBe(37);
    }
  });

  it('spreads 100,000 replicas over 50 peers exactly, within capacity', () => {
    const peers = Array.from({ length: 50 }, (_, i) => peer(`p${i}`, { capacity: 1000 + i * 97 }));
    const r = plan(100_000, peers, { strategy: 'resource_based' });
    expect(r.feasible).toBe(true);
    expect(r.shares.reduce((x, s) => x + s.replicas, 0)).toBe(100_000);
    for (const s of r.shares)
      expect(s.replicas).toBeLessThanOrEqual(peers.find((p) => p.name === s.peer.name)!.capacity!);
  });
});
