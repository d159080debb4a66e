// Batch planning as pure functions: how each strategy cuts a fleet into batches, which percentage
// strategies are refused, and the seeds' time estimate. No I/O.
import { describe, expect, it } from 'vitest';
import {
  batchSizes,
  batchStarts,
  estimatedTotalSeconds,
  strategyProblem,
  strategySchema,
  type Strategy,
} from '../../src/domain/strategy.js';

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('batchSizes for batch', () => {
  it('cuts 50 instances at 20% into 5 batches of 10 (the tutorial plan)', () => {
    expect(batchSizes(50, { type: 'batch', batch_pct: 20 })).toEqual([10, 10, 10, 10, 10]);
  });

  it('rounds the batch size up and leaves the remainder last: 7 at 50% is 4 then 3', () => {
    expect(batchSizes(7, { type: 'batch', batch_pct: 50 })).toEqual([4, 3]);
  });

  it('never makes an empty batch: 3 instances at 1% are 3 batches of 1', () => {
    expect(batchSizes(3, { type: 'batch', batch_pct: 1 })).toEqual([1, 1, 1]);
  });

  it('puts a whole fleet in one batch at 100%', () => {
    expect(batchSizes(13, { type: 'batch', batch_pct: 100 })).toEqual([13]);
  });

  it('plans nothing for an empty fleet', () => {
    expect(batchSizes(0, { type: 'batch', batch_pct: 20 })).toEqual([]);
  });
});

describe('batchSizes for percentage', () => {
  it('turns cumulative steps [5, 25, 100] on 100 instances into 5, 20, 75', () => {
    expect(batchSizes(100, { type: 'percentage', steps: [5, 25, 100] })).toEqual([5, 20, 75]);
  });

  it('skips a step that adds nobody on a small fleet', () => {
    // 3 instances: 5% and 25% both round up to 1 instance, so the 25% step adds none.
    expect(batchSizes(3, { type: 'percentage', steps: [5, 25, 100] })).toEqual([1, 2]);
  });
});

describe('batchSizes for canary_step_up', () => {
  it('starts with the canary batch, then steps of step_pct', () => {
    expect(batchSizes(50, { type: 'canary_step_up', canary_count: 1, step_pct: 25 })).toEqual([1, 13, 13, 13, 10]);
  });

  it('caps the canary at the fleet size', () => {
    expect(batchSizes(2, { type: 'canary_step_up', canary_count: 5, step_pct: 50 })).toEqual([2]);
  });
});

describe('every strategy covers the fleet exactly once', () => {
  const strategies: Strategy[] = [
    { type: 'batch', batch_pct: 7 },
    { type: 'batch', batch_pct: 33.3 },
    { type: 'percentage', steps: [1, 10, 50, 100] },
    { type: 'canary_step_up', canary_count: 3, step_pct: 15 },
  ];
  it.each(strategies)('$type: sizes are positive and sum to the total', (strategy) => {
    for (const total of [1, 2, 9, 10, 11, 99, 1000, 12_345]) {
      const sizes = batchSizes(total, strategy);
      expect(sum(sizes)).toBe(total);
      expect(sizes.every((s) => s > 0)).toBe(true);
    }
  });
});

describe('strategyProblem', () => {
  it('accepts strictly increasing steps ending at 100', () => {
    expect(strategyProblem({ type: 'percentage', steps: [5, 25, 100] })).toBeNull();
  });

  it('refuses steps that do not strictly increase', () => {
    expect(strategyProblem({ type: 'percentage', steps: [5, 5, 100] })).toMatch(/strictly increasing/);
    expect(strategyProblem({ type: 'percentage', steps: [50, 25, 100] })).toMatch(/strictly increasing/);
  });

  it('refuses steps that stop short of 100', () => {
    expect(strategyProblem({ type: 'percentage', steps: [5, 25, 90] })).toMatch(/end at 100/);
  });

  it('has nothing to say about batch and canary strategies', () => {
    expect(strategyProblem({ type: 'batch', batch_pct: 20 })).toBeNull();
    expect(strategyProblem({ type: 'canary_step_up', canary_count: 1, step_pct: 10 })).toBeNull();
  });
});

describe('strategySchema', () => {
  it('refuses an unknown key by name instead of dropping it', () => {
    const parsed = strategySchema.safeParse({ type: 'batch', batch_pct: 20, max_consecutive_failure: 1 });
    expect(parsed.success).toBe(false);
  });
});

describe('batchStarts', () => {
  it('gives the 1-based position where each batch begins', () => {
    expect(batchStarts([4, 3])).toEqual([1, 5]);
    expect(batchStarts([10, 10, 10, 10, 10])).toEqual([1, 11, 21, 31, 41]);
  });
});

describe('estimatedTotalSeconds', () => {
  it('is one health window per batch: 5 batches × 300 s = 1500 s', () => {
    expect(estimatedTotalSeconds(5, 300, 0)).toBe(1500);
  });

  it('adds soak time between batches, not after the last', () => {
    expect(estimatedTotalSeconds(5, 300, 60)).toBe(1500 + 4 * 60);
    expect(estimatedTotalSeconds(1, 300, 60)).toBe(300);
  });
});
