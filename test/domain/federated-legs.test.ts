// The target side's pure rules: when a synchronized leg holds at its barrier, what a leg says it waits
// for, and the arguments of rollouts.control. No I/O.
import { describe, expect, it } from 'vitest';
import { controlArgsSchema, heldAtBarrier, legWaitingFor } from '../../src/domain/federated-legs.js';
import type { Rollout } from '../../src/domain/rollout.js';

const NOW = new Date('2026-11-22T00:00:00.000Z');

type Leg = Parameters<typeof legWaitingFor>[0];
const leg = (patch: Partial<Leg> = {}): Leg => ({
  state: 'running',
  approvalRequestId: null,
  barrierBatch: null,
  batchCount: 4,
  currentBatch: 0,
  nextBatchAt: null,
  ...patch,
});

describe('heldAtBarrier', () => {
  const r = (barrierBatch: number | null): Pick<Rollout, 'barrierBatch' | 'batchCount'> => ({
    barrierBatch,
    batchCount: 4,
  });

  it('never holds an independent leg', () => {
    expect([0, 1, 2, 3].map((next) => heldAtBarrier(r(null), next))).toEqual([false, false, false, false]);
  });

  it('holds batches past the barrier and lets batches up to it start', () => {
    expect([0, 1, 2, 3].map((next) => heldAtBarrier(r(1), next))).toEqual([false, false, true, true]);
  });

  it('never holds the completion after the last batch', () => {
    expect(heldAtBarrier(r(0), 4)).toBe(false);
  });
});

describe('legWaitingFor', () => {
  it('names the barrier once the current batch completed and the next is past it', () => {
    expect(legWaitingFor(leg({ barrierBatch: 0 }), 1, NOW)).toBe('barrier: batch 1');
  });

  it('names the batch in flight before the barrier matters', () => {
    expect(legWaitingFor(leg({ barrierBatch: 0 }), 0, NOW)).toBe('health: batch 0');
  });

  it('names the approval, a resume, a soak, the next start, or nothing when finished', () => {
    expect(legWaitingFor(leg({ state: 'pending_approval', approvalRequestId: 'ap-1' }), 0, NOW)).toBe('approval ap-1');
    expect(legWaitingFor(leg({ state: 'circuit_open', approvalRequestId: 'ap-2' }), 0, NOW)).toBe(
      'circuit breaker: continuation approval ap-2',
    );
    expect(legWaitingFor(leg({ state: 'paused' }), 0, NOW)).toBe('resume');
    const soakUntil = new Date(NOW.getTime() + 60_000);
    expect(legWaitingFor(leg({ nextBatchAt: soakUntil }), 1, NOW)).toBe(`soak: until ${soakUntil.toISOString()}`);
    expect(legWaitingFor(leg({ currentBatch: -1 }), 0, NOW)).toBe('start: batch 0');
    expect(legWaitingFor(leg({ state: 'completed', currentBatch: 3 }), 4, NOW)).toBeNull();
  });
});

describe('rollouts.control arguments', () => {
  const id = '6f1c1d5e-2f7b-4d0e-9a55-0c0c7d1e2f3a';

  it('needs barrier_batch for set_barrier, where null removes the barrier', () => {
    expect(controlArgsSchema.safeParse({ federated_rollout_id: id, action: 'set_barrier' }).success).toBe(false);
    expect(
      controlArgsSchema.safeParse({ federated_rollout_id: id, action: 'set_barrier', barrier_batch: null }).success,
    ).toBe(true);
  });

  it('refuses unknown actions and fields', () => {
    expect(controlArgsSchema.safeParse({ federated_rollout_id: id, action: 'pause_peer' }).success).toBe(false);
    expect(controlArgsSchema.safeParse({ federated_rollout_id: id, action: 'pause', extra: 1 }).success).toBe(false);
  });
});
