// The circuit breaker as a pure function of outcomes: consecutive failures trip it, a success resets
// the run, a cumulative failure budget applies once enough instances finished, and an open breaker
// only records. No I/O.
import { describe, expect, it } from 'vitest';
import {
  applyOutcomes,
  initialBreaker,
  resetAfterContinue,
  tripOnRearm,
  type BreakerConfig,
  type Outcome,
} from '../../src/domain/breaker.js';

const ok = (id: string): Outcome => ({ instanceId: id, healthy: true });
const bad = (id: string): Outcome => ({ instanceId: id, healthy: false });
const consecutive = (n: number): BreakerConfig => ({ maxConsecutiveFailures: n, maxFailurePct: null, minSample: null });

describe('applyOutcomes: consecutive failures', () => {
  it('does not trip below the threshold', () => {
    const { state, trip } = applyOutcomes(initialBreaker(), [bad('a')], consecutive(2));
    expect(trip).toBeNull();
    expect(state).toEqual({ consecutive: 1, runIds: ['a'], healthyTotal: 0, failedTotal: 1 });
  });

  it('trips at max_consecutive_failures with the instances of the failing run', () => {
    const { trip } = applyOutcomes(initialBreaker(), [ok('a'), bad('b'), bad('c')], consecutive(2));
    expect(trip).toEqual({ reason: 'max_consecutive_failures (2) exceeded', failedInstanceIds: ['b', 'c'] });
  });

  it('a success resets the run, so alternating failures never trip', () => {
    const { state, trip } = applyOutcomes(
      initialBreaker(),
      [bad('a'), ok('b'), bad('c'), ok('d'), bad('e')],
      consecutive(2),
    );
    expect(trip).toBeNull();
    expect(state).toEqual({ consecutive: 1, runIds: ['e'], healthyTotal: 2, failedTotal: 3 });
  });

  it('counts a run across calls (ticks)', () => {
    const first = applyOutcomes(initialBreaker(), [bad('a')], consecutive(2));
    const second = applyOutcomes(first.state, [bad('b')], consecutive(2));
    expect(second.trip?.failedInstanceIds).toEqual(['a', 'b']);
  });

  it('reports the first trip only and keeps counting the outcomes after it', () => {
    const { state, trip } = applyOutcomes(initialBreaker(), [bad('a'), bad('b'), bad('c'), ok('d')], consecutive(2));
    expect(trip?.failedInstanceIds).toEqual(['a', 'b']);
    expect(state).toMatchObject({ consecutive: 0, runIds: [], healthyTotal: 1, failedTotal: 3 });
  });

  it('does not change the state it was given', () => {
    const start = { consecutive: 1, runIds: ['a'], healthyTotal: 0, failedTotal: 1 };
    applyOutcomes(start, [bad('b')], consecutive(5));
    expect(start).toEqual({ consecutive: 1, runIds: ['a'], healthyTotal: 0, failedTotal: 1 });
  });
});

describe('applyOutcomes: max_failure_pct', () => {
  const budget: BreakerConfig = { maxConsecutiveFailures: 100, maxFailurePct: 20, minSample: 5 };

  it('waits for min_sample finished instances before judging the percentage', () => {
    // 2 failed of 4 finished is 50%, but only 4 < 5 finished.
    const { trip } = applyOutcomes(initialBreaker(), [bad('a'), ok('b'), bad('c'), ok('d')], budget);
    expect(trip).toBeNull();
  });

  it('trips once min_sample is reached and the failed share exceeds the budget', () => {
    const { trip } = applyOutcomes(initialBreaker(), [ok('a'), bad('b'), ok('c'), ok('d'), bad('e')], budget);
    expect(trip).toEqual({ reason: 'max_failure_pct (20) exceeded: 40.0% of 5 failed', failedInstanceIds: ['e'] });
  });

  it('is judged when a failure arrives: a success never trips it (like cockatiel)', () => {
    // 2 of 5 failed is 40%, but the 5th outcome is a success; the next failure trips it.
    const first = applyOutcomes(initialBreaker(), [bad('a'), ok('b'), bad('c'), ok('d'), ok('e')], budget);
    expect(first.trip).toBeNull();
    expect(applyOutcomes(first.state, [bad('f')], budget).trip?.reason).toBe(
      'max_failure_pct (20) exceeded: 50.0% of 6 failed',
    );
  });

  it('does not trip at exactly the budget', () => {
    const outcomes = [bad('a'), ok('b'), ok('c'), ok('d'), ok('e')];
    expect(applyOutcomes(initialBreaker(), outcomes, budget).trip).toBeNull();
  });

  it('judges the percentage only when a failure arrives', () => {
    // 4 early failures with min_sample 10 can not trip; healthy outcomes afterwards lower the share.
    const { trip } = applyOutcomes(
      initialBreaker(),
      [bad('a'), ok('b'), bad('c'), ok('d'), ...Array.from({ length: 20 }, (_, i) => ok(`h${i}`))],
      { maxConsecutiveFailures: 100, maxFailurePct: 20, minSample: 10 },
    );
    expect(trip).toBeNull();
  });
});

describe('applyOutcomes: a disarmed (open) breaker', () => {
  it('records failures without ever tripping', () => {
    const { state, trip } = applyOutcomes(
      initialBreaker(),
      [bad('a'), bad('b'), bad('c')],
      { maxConsecutiveFailures: 1, maxFailurePct: 0, minSample: 1 },
      false,
    );
    expect(trip).toBeNull();
    expect(state).toEqual({ consecutive: 3, runIds: ['a', 'b', 'c'], healthyTotal: 0, failedTotal: 3 });
  });
});

describe('resetAfterContinue', () => {
  it('forgets the failing run but keeps the totals', () => {
    const tripped = applyOutcomes(initialBreaker(), [ok('a'), bad('b'), bad('c')], consecutive(2)).state;
    expect(resetAfterContinue(tripped)).toEqual({ consecutive: 0, runIds: [], healthyTotal: 1, failedTotal: 2 });
  });

  it('lets the next failure start a new run instead of tripping again', () => {
    const tripped = applyOutcomes(initialBreaker(), [bad('b'), bad('c')], consecutive(2)).state;
    const after = applyOutcomes(resetAfterContinue(tripped), [bad('d')], consecutive(2));
    expect(after.trip).toBeNull();
    expect(after.state.runIds).toEqual(['d']);
  });
});

describe('tripOnRearm', () => {
  it('trips a breaker whose disarmed run already reached the limit', () => {
    const recorded = applyOutcomes(initialBreaker(), [bad('a'), bad('b')], consecutive(2), false).state;
    expect(tripOnRearm(recorded, consecutive(2))).toEqual({
      reason: 'max_consecutive_failures (2) exceeded',
      failedInstanceIds: ['a', 'b'],
    });
  });

  it('leaves a breaker below the limit, or reset after continue_anyway, closed', () => {
    const recorded = applyOutcomes(initialBreaker(), [bad('a'), bad('b')], consecutive(2), false).state;
    expect(tripOnRearm(recorded, consecutive(3))).toBeNull();
    expect(tripOnRearm(resetAfterContinue(recorded), consecutive(2))).toBeNull();
  });
});
