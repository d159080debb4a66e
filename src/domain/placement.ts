// Placement: how many replicas of a federated deployment each peer (and optionally this platform) runs.
// A pure engine, no I/O: the caller computes each candidate's hard constraints (residency, boundary,
// peer status), its capacity (online instances of the group) and cost; the strategy spreads the rest.
import { z } from 'zod';
import { safeText } from './text.js';
import { InvalidInputError } from '../errors.js';

export const PLACEMENT_STRATEGIES = ['weighted', 'geo_affinity', 'resource_based', 'cost_optimized'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

/** The most replicas one placement spreads (a sanity bound, far above any fleet). */
export const MAX_REPLICAS = 10_000_000;

/** The largest weight: weights are relative, and 1,000,000 to 1 is finer than any spread of replicas. */
export const MAX_WEIGHT = 1_000_000;
/** The most online instances of one group a peer may report (as many as one placement spreads). */
export const MAX_CAPACITY = MAX_REPLICAS;
/** The highest cost per instance a peer may report (the `--cost-per-instance` setting's bound). */
export const MAX_COST_PER_INSTANCE = 1_000_000_000;

const count = z.number().int().min(0).max(MAX_REPLICAS);

export const placementPolicySchema = z.strictObject({
  strategy: z
    .enum(PLACEMENT_STRATEGIES)
    .describe(
      'weighted (weights), geo_affinity (regions in order), resource_based (capacity), cost_optimized (cheapest first)',
    ),
  weights: z
    .record(
      safeText({ min: 1 }),
      z
        .number()
        .finite()
        .min(0)
        .max(
          MAX_WEIGHT,
          `a weight is at most ${MAX_WEIGHT.toLocaleString('en-US')}; weights are relative, scale them down`,
        ),
    )
    .optional()
    .describe('weighted: relative weight per peer (name or id); peers left out weigh 0; omitted: all equal'),
  min: z
    .record(safeText({ min: 1 }), count)
    .optional()
    .describe('replicas a peer gets at least (name or id)'),
  max: z
    .record(safeText({ min: 1 }), count)
    .optional()
    .describe('replicas a peer gets at most (name or id)'),
  regions: z
    .array(safeText({ min: 1, max: 64 }))
    .min(1)
    .max(64)
    .optional()
    .describe('geo_affinity: preferred regions, best first; peers elsewhere are filled last'),
});
export type PlacementPolicy = z.infer<typeof placementPolicySchema>;

/** One place replicas could go, with the facts the caller gathered. */
export interface PlacementCandidate {
  id: string;
  name: string;
  region: string | null;
  status: string;
  /** Online instances of the group there; null when never reported. */
  capacity: number | null;
  /** Cost of one instance there; null when never reported. */
  costPerInstance: number | null;
  /** false: a hard constraint excludes it, `reasons` say which. */
  allowed: boolean;
  reasons: string[];
}

export interface PlacementInput {
  replicas: number;
  peers: readonly PlacementCandidate[];
  placement: PlacementPolicy;
}

export interface PlacementShare {
  peer: { id: string; name: string };
  replicas: number;
  /** How strongly the strategy prefers this peer, 0–1 (1 best). */
  score: number;
  why: string;
}

export interface PlacementExclusion {
  peer: { id: string; name: string };
  reasons: string[];
}

export interface PlacementResult {
  feasible: boolean;
  strategy: PlacementStrategy;
  replicas: number;
  /** Every allowed peer, by name, with its share (possibly 0). */
  shares: PlacementShare[];
  /** Replicas no allowed peer could take (infeasible when > 0). */
  unplaced: number;
  excluded: PlacementExclusion[];
  /** Why the placement is infeasible (empty when feasible). */
  reasons: string[];
}

interface Slot {
  c: PlacementCandidate;
  /** The most it may get: its max and its capacity, whichever is lower. */
  room: number;
  min: number;
  weight: number;
  score: number;
  alloc: number;
  notes: string[];
}

const byName = (a: { c: PlacementCandidate }, b: { c: PlacementCandidate }): number =>
  a.c.name < b.c.name ? -1 : a.c.name > b.c.name ? 1 : a.c.id < b.c.id ? -1 : a.c.id > b.c.id ? 1 : 0;

/**
 * Spreads `amount` over `slots` in proportion to their weights, none above its room (water-filling), and
 * rounds by largest remainder (ties by name) so the shares sum exactly. Returns what could not be placed.
 * Each round divides the weights by the largest first, so any finite weights give finite shares; every
 * share is also bounded by what is left to place, so float rounding can never place more than `amount`.
 */
function spreadProportionally(slots: Slot[], amount: number): number {
  let active = slots.filter((s) => s.weight > 0 && s.room - s.alloc > 0);
  let rest = amount;
  let exact: Array<{ s: Slot; x: number }> = [];
  while (active.length > 0 && rest > 0) {
    const top = active.reduce((m, s) => Math.max(m, s.weight), 0);
    const total = active.reduce((sum, s) => sum + s.weight / top, 0);
    const share = (s: Slot): number => rest * (s.weight / top / total);
    const clamped = active.filter((s) => share(s) >= s.room - s.alloc);
    if (clamped.length === 0) {
      exact = active.map((s) => ({ s, x: share(s) }));
      break;
    }
    for (const s of clamped) {
      const give = Math.min(s.room - s.alloc, rest);
      s.alloc += give;
      rest -= give;
    }
    active = active.filter((s) => !clamped.includes(s));
  }
  if (exact.length === 0) return rest;
  const fractions: Array<{ s: Slot; frac: number }> = [];
  for (const { s, x } of exact) {
    const floor = Math.floor(x + 1e-9);
    const whole = Math.max(0, Math.min(floor, s.room - s.alloc, rest));
    s.alloc += whole;
    rest -= whole;
    fractions.push({ s, frac: x - floor });
  }
  fractions.sort((a, b) => b.frac - a.frac || byName(a.s, b.s));
  // Largest remainder first; more rounds only when rounding left more than one replica per slot.
  let gave = true;
  while (rest > 0 && gave) {
    gave = false;
    for (const { s } of fractions) {
      if (rest <= 0) break;
      if (s.alloc < s.room) {
        s.alloc += 1;
        rest -= 1;
        gave = true;
      }
    }
  }
  return rest;
}

/** Fills tiers in order (each split in proportion to weight within it) until `amount` is placed. */
function fillTiers(tiers: Slot[][], amount: number): number {
  let rest = amount;
  for (const tier of tiers) {
    if (rest <= 0) break;
    const room = tier.reduce((sum, s) => sum + Math.max(0, s.room - s.alloc), 0);
    const take = Math.min(rest, room);
    rest -= take - spreadProportionally(tier, take);
  }
  return rest;
}

function lookup<T>(map: Record<string, T> | undefined, c: PlacementCandidate): T | undefined {
  if (map === undefined) return undefined;
  return Object.hasOwn(map, c.id) ? map[c.id] : Object.hasOwn(map, c.name) ? map[c.name] : undefined;
}

/** Refuses a policy naming peers that are not candidates, or asking for what its strategy ignores. */
export function validatePlacement(input: PlacementInput): void {
  const { placement: p, replicas } = input;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
    throw new InvalidInputError(`replicas must be a whole number from 0 to ${MAX_REPLICAS}, got ${replicas}`);
  }
  const known = new Set(input.peers.flatMap((c) => [c.id, c.name]));
  for (const field of ['weights', 'min', 'max'] as const) {
    for (const key of Object.keys(p[field] ?? {})) {
      if (!known.has(key)) {
        throw new InvalidInputError(`placement.${field} names ${key}, which is not one of the placement's peers`, {
          hint: 'name each peer as in peers (by name or id); include_local adds this platform by its name',
        });
      }
    }
  }
  if (p.weights !== undefined && p.strategy !== 'weighted') {
    throw new InvalidInputError(`placement.weights applies to the weighted strategy, not ${p.strategy}`);
  }
  if (p.strategy === 'geo_affinity' && p.regions === undefined) {
    throw new InvalidInputError('placement.regions is required by the geo_affinity strategy', {
      hint: 'list the preferred regions, best first',
    });
  }
  if (p.regions !== undefined && p.strategy !== 'geo_affinity') {
    throw new InvalidInputError(`placement.regions applies to the geo_affinity strategy, not ${p.strategy}`);
  }
  for (const c of input.peers) {
    const min = lookup(p.min, c);
    const max = lookup(p.max, c);
    if (min !== undefined && max !== undefined && min > max) {
      throw new InvalidInputError(`placement.min for ${c.name} (${min}) is above its max (${max})`);
    }
  }
}

function regionRank(regions: readonly string[], region: string | null): number {
  if (region === null) return regions.length;
  const exact = regions.indexOf(region);
  if (exact >= 0) return exact;
  const within = regions.findIndex((r) => region.startsWith(`${r}-`));
  return within >= 0 ? within : regions.length;
}

/** Places `replicas` over the allowed peers by the policy's strategy; hard constraints always win. */
export function planPlacement(input: PlacementInput): PlacementResult {
  validatePlacement(input);
  const { placement: p, replicas } = input;
  const strategy = p.strategy;
  const excluded: PlacementExclusion[] = [];
  const reasons: string[] = [];
  const slots: Slot[] = [];
  const sorted = [...input.peers].sort((a, b) => byName({ c: a }, { c: b }));
  for (const c of sorted) {
    const ref = { id: c.id, name: c.name };
    const min = lookup(p.min, c) ?? 0;
    if (!c.allowed) {
      const why = c.reasons.length > 0 ? [...c.reasons] : ['excluded by a hard constraint'];
      if (min > 0) why.push(`its min of ${min} is not honoured`);
      excluded.push({ peer: ref, reasons: why });
      continue;
    }
    const needsCapacity = strategy !== 'weighted';
    if (needsCapacity && c.capacity === null) {
      excluded.push({ peer: ref, reasons: [`no capacity reported; ${strategy} needs it`] });
      continue;
    }
    if (strategy === 'cost_optimized' && c.costPerInstance === null) {
      excluded.push({ peer: ref, reasons: ['no cost per instance reported; cost_optimized needs it'] });
      continue;
    }
    const max = lookup(p.max, c);
    const room = Math.min(max ?? Number.POSITIVE_INFINITY, c.capacity ?? Number.POSITIVE_INFINITY);
    const notes: string[] = [];
    if (c.capacity !== null) notes.push(`capacity ${c.capacity}`);
    if (max !== undefined) notes.push(`max ${max}`);
    if (min > 0) notes.push(`min ${min}`);
    if (min > room) reasons.push(`${c.name} needs at least ${min} but can take at most ${room}`);
    // weighted: the given weight (all equal when none are given); the others split in proportion to capacity.
    const weight =
      strategy !== 'weighted' ? (c.capacity ?? 0) : p.weights === undefined ? 1 : (lookup(p.weights, c) ?? 0);
    slots.push({ c, room, min: Math.min(min, room), weight, score: 0, alloc: 0, notes });
  }

  const minTotal = slots.reduce((sum, s) => sum + s.min, 0);
  if (minTotal > replicas) reasons.push(`the minimums add up to ${minTotal}, more than the ${replicas} replicas`);
  if (slots.length === 0 && replicas > 0) reasons.push('no peer may receive a share');

  let unplaced = replicas;
  if (minTotal <= replicas) {
    for (const s of slots) s.alloc = s.min;
    unplaced = replicas - minTotal;
    unplaced = place(strategy, p, slots, unplaced);
    if (unplaced > 0 && slots.length > 0) {
      reasons.push(
        `${unplaced} of ${replicas} replicas fit nowhere: the allowed peers are full (capacity, max) or weigh 0`,
      );
    }
  }
  scoreSlots(strategy, p, slots);
  const shares = slots.map((s) => ({
    peer: { id: s.c.id, name: s.c.name },
    replicas: s.alloc,
    score: Math.round(s.score * 1000) / 1000,
    why: describe(strategy, s),
  }));
  return { feasible: reasons.length === 0, strategy, replicas, shares, unplaced, excluded, reasons };
}

function place(strategy: PlacementStrategy, p: PlacementPolicy, slots: Slot[], amount: number): number {
  switch (strategy) {
    case 'weighted':
    case 'resource_based':
      return spreadProportionally(slots, amount);
    case 'geo_affinity': {
      const regions = p.regions ?? [];
      const tiers: Slot[][] = Array.from({ length: regions.length + 1 }, () => []);
      for (const s of slots) tiers[regionRank(regions, s.c.region)]!.push(s);
      return fillTiers(tiers, amount);
    }
    case 'cost_optimized': {
      const costs = [...new Set(slots.map((s) => s.c.costPerInstance ?? 0))].sort((a, b) => a - b);
      return fillTiers(
        costs.map((cost) => slots.filter((s) => (s.c.costPerInstance ?? 0) === cost)),
        amount,
      );
    }
  }
}

function scoreSlots(strategy: PlacementStrategy, p: PlacementPolicy, slots: Slot[]): void {
  const maxWeight = Math.max(0, ...slots.map((s) => s.weight));
  for (const s of slots) {
    switch (strategy) {
      case 'weighted':
      case 'resource_based':
        s.score = maxWeight > 0 ? s.weight / maxWeight : 0;
        break;
      case 'geo_affinity': {
        const regions = p.regions ?? [];
        s.score = (regions.length - regionRank(regions, s.c.region)) / regions.length;
        break;
      }
      case 'cost_optimized': {
        const cheapest = Math.min(...slots.map((x) => x.c.costPerInstance ?? 0));
        const cost = s.c.costPerInstance ?? 0;
        s.score = cost <= 0 ? 1 : cheapest / cost;
        break;
      }
    }
  }
}

function describe(strategy: PlacementStrategy, s: Slot): string {
  const facts = s.notes.length > 0 ? ` (${s.notes.join(', ')})` : '';
  const lead =
    strategy === 'weighted'
      ? `weight ${s.weight}`
      : strategy === 'resource_based'
        ? `${s.weight} online instances`
        : strategy === 'geo_affinity'
          ? `region ${s.c.region ?? 'unknown'}`
          : `cost ${s.c.costPerInstance ?? 0} per instance`;
  const full = s.alloc >= s.room && s.alloc > 0 ? '; full' : '';
  return `${lead}: ${s.alloc} replicas${facts}${full}`;
}
