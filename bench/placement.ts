// Placement engine benchmark: 100,000 replicas over 50 peers for each strategy, pure CPU (no store, no
// HTTP). Peers have uneven capacity, cost and regions, and weighted sets maxes that clamp, so the
// water-filling and the largest-remainder rounding both do real work. Goal: < 100 ms per plan.
import {
  PLACEMENT_STRATEGIES,
  planPlacement,
  type PlacementCandidate,
  type PlacementPolicy,
} from '../src/domain/placement.js';
import { log, ms, timeCalls, type ResultRow } from './measure.js';

const GOAL_MS = 100;
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-southeast-1'];

function candidates(count: number, replicas: number): PlacementCandidate[] {
  // Capacity sums to about 1.5× the replicas, unevenly; every 10th peer is excluded by a hard constraint.
  const base = Math.ceil((1.5 * replicas) / count);
  return Array.from({ length: count }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `peer-${String(i).padStart(3, '0')}`,
    region: REGIONS[i % REGIONS.length]!,
    status: 'active',
    capacity: Math.round(base * (0.25 + ((i * 37) % 100) / 57)),
    costPerInstance: 0.5 + ((i * 13) % 20) / 10,
    allowed: i % 10 !== 9,
    reasons: i % 10 === 9 ? ['boundary rule drops deployments.assign'] : [],
  }));
}

function policy(strategy: PlacementPolicy['strategy'], peers: PlacementCandidate[], replicas: number): PlacementPolicy {
  switch (strategy) {
    case 'weighted':
      return {
        strategy,
        weights: Object.fromEntries(peers.map((p, i) => [p.name, 1 + (i % 7)])),
        min: Object.fromEntries(peers.slice(0, 10).map((p) => [p.name, 100])),
        max: Object.fromEntries(peers.filter((_, i) => i % 3 === 0).map((p) => [p.name, Math.floor(replicas / 200)])),
      };
    case 'geo_affinity':
      return { strategy, regions: ['us-east-1', 'eu', 'ap-southeast-1'] };
    default:
      return { strategy };
  }
}

/** Times one plan per strategy `plans` times; every plan must place all the replicas. */
export async function benchPlacement(opts: { replicas: number; peers: number; plans: number }): Promise<ResultRow[]> {
  log(`== placement: ${opts.replicas} replicas over ${opts.peers} peers, ${opts.plans} plans per strategy ==`);
  const peers = candidates(opts.peers, opts.replicas);
  const rows: ResultRow[] = [];
  for (const strategy of PLACEMENT_STRATEGIES) {
    const input = { replicas: opts.replicas, peers, placement: policy(strategy, peers, opts.replicas) };
    const check = planPlacement(input);
    const placed = check.shares.reduce((sum, s) => sum + s.replicas, 0);
    if (!check.feasible || placed !== opts.replicas) {
      throw new Error(`${strategy}: placed ${placed} of ${opts.replicas} (${check.reasons.join('; ')})`);
    }
    const timing = await timeCalls(opts.plans, async () => planPlacement(input));
    log(`${strategy}: p50 ${ms(timing.p50)} ms, p99 ${ms(timing.p99)} ms, max ${ms(timing.max)} ms`);
    rows.push({
      bench: 'placement',
      case: `${strategy}, ${opts.replicas} over ${opts.peers} peers`,
      timing,
      goal: `p99 < ${GOAL_MS} ms`,
      ok: timing.p99 < GOAL_MS,
    });
  }
  log();
  return rows;
}
