// The one rollout strategy type the product uses (local and federated rollouts), and how it cuts a
// fleet into batches. Pure: no I/O.
import { z } from 'zod';

export const strategySchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('batch'),
    batch_pct: z.number().min(1).max(100).describe('each batch is this percent of the fleet (rounded up)'),
  }),
  z.strictObject({
    type: z.literal('percentage'),
    steps: z
      .array(z.number().min(1).max(100))
      .min(1)
      .max(20)
      .describe('cumulative percentages, strictly increasing, ending at 100, e.g. [5, 25, 100]'),
  }),
  z.strictObject({
    type: z.literal('canary_step_up'),
    canary_count: z.number().int().min(1).describe('instances in the first (canary) batch'),
    step_pct: z.number().min(1).max(100).describe('each later batch is this percent of the fleet (rounded up)'),
  }),
]);

export type Strategy = z.infer<typeof strategySchema>;

/** Returns an error message when the strategy is well-typed but inconsistent, else null. */
export function strategyProblem(s: Strategy): string | null {
  if (s.type !== 'percentage') return null;
  for (let i = 1; i < s.steps.length; i++) {
    if (s.steps[i]! <= s.steps[i - 1]!) return 'strategy.steps must be strictly increasing';
  }
  if (s.steps[s.steps.length - 1] !== 100) return 'strategy.steps must end at 100';
  return null;
}

/** Batch sizes for `total` instances: every batch non-empty, sizes summing to `total`. */
export function batchSizes(total: number, s: Strategy): number[] {
  if (total <= 0) return [];
  const pctOf = (pct: number): number => Math.max(1, Math.ceil((total * pct) / 100));
  const sizes: number[] = [];
  switch (s.type) {
    case 'batch': {
      const size = pctOf(s.batch_pct);
      for (let done = 0; done < total; done += size) sizes.push(Math.min(size, total - done));
      break;
    }
    case 'percentage': {
      let done = 0;
      for (const step of s.steps) {
        const upTo = Math.min(total, Math.ceil((total * step) / 100));
        if (upTo > done) {
          sizes.push(upTo - done);
          done = upTo;
        }
      }
      if (done < total) sizes.push(total - done);
      break;
    }
    case 'canary_step_up': {
      const canary = Math.min(s.canary_count, total);
      sizes.push(canary);
      const step = pctOf(s.step_pct);
      for (let done = canary; done < total; done += step) sizes.push(Math.min(step, total - done));
      break;
    }
  }
  return sizes;
}

/** 1-based positions where each batch starts (for SQL width_bucket over row numbers). */
export function batchStarts(sizes: readonly number[]): number[] {
  const starts: number[] = [];
  let next = 1;
  for (const size of sizes) {
    starts.push(next);
    next += size;
  }
  return starts;
}

/** The seeds' estimate: one health window per batch plus soak time between batches. */
export function estimatedTotalSeconds(batchCount: number, healthTimeoutSec: number, soakSec: number): number {
  return batchCount * healthTimeoutSec + Math.max(0, batchCount - 1) * soakSec;
}
