// Federated rollout rules as pure functions: the overall state from the legs, the synchronized barrier
// (k+1 once every live leg completed batch k), where a switch to synchronized puts it, what a leg waits
// for, and why a precheck answer refuses a target. No I/O.
import { describe, expect, it } from 'vitest';
import {
  barrierOnSynchronize,
  holdsAtBarrier,
  legStateOf,
  legWaitingFor,
  nextBarrier,
  overallState,
  precheckProblem,
  waitingReasons,
  type FederatedLeg,
  type LegState,
} from '../../src/domain/federated-rollout.js';

type Leg = Pick<
  FederatedLeg,
  | 'peerName'
  | 'state'
  | 'currentBatch'
  | 'completedBatches'
  | 'batchCount'
  | 'pendingApprovalIds'
  | 'lostContact'
  | 'lastContactAt'
  | 'waitingFor'
>;

const leg = (peerName: string, state: LegState, completedBatches = 0, batchCount: number | null = 5): Leg => ({
  peerName,
  state,
  currentBatch: completedBatches - 1,
  completedBatches,
  batchCount,
  pendingApprovalIds: [],
  lostContact: false,
  lastContactAt: null,
  waitingFor: null,
});
const sync = (barrierBatch: number) => ({ coordination: 'synchronized' as const, barrierBatch });

describe('overallState', () => {
  it('stays running while any leg is live', () => {
    expect(overallState('running', [leg('a', 'completed'), leg('b', 'running')])).toBe('running');
    expect(overallState('running', [leg('a', 'failed'), leg('b', 'pending_approval')])).toBe('running');
  });

  it('completes when every leg completed', () => {
    expect(overallState('running', [leg('a', 'completed'), leg('b', 'completed')])).toBe('completed');
  });

  it('fails when a leg failed and the rest finished', () => {
    expect(overallState('running', [leg('a', 'completed'), leg('b', 'failed')])).toBe('failed');
  });

  it('after a rollback: rolled_back, or failed when a leg could not roll back', () => {
    expect(overallState('rolling_back', [leg('a', 'rolled_back'), leg('b', 'aborted')])).toBe('rolled_back');
    expect(overallState('rolling_back', [leg('a', 'rolled_back'), leg('b', 'failed')])).toBe('failed');
  });

  it('after an abort: aborted once every leg stopped', () => {
    expect(overallState('aborting', [leg('a', 'aborted'), leg('b', 'running')])).toBe('aborting');
    expect(overallState('aborting', [leg('a', 'aborted'), leg('b', 'completed')])).toBe('aborted');
  });

  it('never leaves a terminal state', () => {
    expect(overallState('completed', [leg('a', 'running')])).toBe('completed');
  });
});

describe('nextBarrier', () => {
  it('rises to k+1 once every live leg completed batch k', () => {
    expect(nextBarrier(0, [leg('a', 'running', 1), leg('b', 'running', 1)])).toBe(1);
  });

  it('holds while one leg has not completed the barrier batch', () => {
    expect(nextBarrier(0, [leg('a', 'running', 1), leg('b', 'running', 0)])).toBe(0);
  });

  it('waits for a leg pending approval or paused, and for a requested leg', () => {
    expect(nextBarrier(0, [leg('a', 'running', 1), leg('b', 'pending_approval', 0)])).toBe(0);
    expect(nextBarrier(1, [leg('a', 'running', 2), leg('b', 'paused', 1)])).toBe(1);
    expect(nextBarrier(0, [leg('a', 'running', 1), leg('b', 'requested', 0, null)])).toBe(0);
  });

  it('ignores finished legs and legs rolling back', () => {
    expect(nextBarrier(0, [leg('a', 'running', 2), leg('b', 'failed', 0), leg('c', 'rolling_back', 0)])).toBe(2);
  });

  it('a leg with every batch done never holds the others back', () => {
    expect(nextBarrier(1, [leg('a', 'running', 2, 2), leg('b', 'running', 3, 5)])).toBe(3);
  });

  it('never lowers the barrier, and stands when nothing gates it', () => {
    expect(nextBarrier(3, [leg('a', 'running', 1)])).toBe(3);
    expect(nextBarrier(2, [leg('a', 'completed', 5)])).toBe(2);
    expect(nextBarrier(1, [leg('a', 'running', 2, 2)])).toBe(1);
  });
});

describe('barrierOnSynchronize', () => {
  it('is the lowest current batch among live legs', () => {
    const legs = [
      { ...leg('a', 'running'), currentBatch: 3 },
      { ...leg('b', 'running'), currentBatch: 1 },
      { ...leg('c', 'completed'), currentBatch: 0 },
    ];
    expect(barrierOnSynchronize(legs)).toBe(1);
  });

  it('is 0 when a live leg has not started a batch', () => {
    expect(barrierOnSynchronize([{ ...leg('a', 'pending_approval'), currentBatch: -1 }])).toBe(0);
  });
});

describe('what a leg waits for', () => {
  it('a leg past the barrier holds and names the laggards and the batch they must complete', () => {
    const fast = leg('fast', 'running', 1);
    const slow = leg('slow', 'running', 0);
    expect(holdsAtBarrier(fast, 0)).toBe(true);
    expect(holdsAtBarrier(slow, 0)).toBe(false);
    expect(legWaitingFor(fast, sync(0), [fast, slow])).toBe('barrier: waiting for slow (batch 0)');
    expect(legWaitingFor(slow, sync(0), [fast, slow])).toBeNull();
  });

  it('independent legs never wait for a barrier', () => {
    const fast = leg('fast', 'running', 1);
    expect(legWaitingFor(fast, { coordination: 'independent', barrierBatch: null }, [fast])).toBeNull();
  });

  it('approvals, pauses and lost contact say where', () => {
    const parked = { ...leg('eu', 'pending_approval'), pendingApprovalIds: ['ap-1'] };
    expect(legWaitingFor(parked, sync(0), [parked])).toBe('pending_approval on eu (approval ap-1)');
    expect(legWaitingFor(leg('us', 'paused', 1), sync(0), [])).toBe('paused on us');
    const lost = { ...leg('ap', 'running', 1), lostContact: true, lastContactAt: new Date('2026-11-22T01:00:00Z') };
    expect(legWaitingFor(lost, sync(0), [lost])).toBe('lost_contact: ap since 2026-11-22T01:00:00.000Z');
  });

  it('finished legs wait for nothing; the overall list keeps each line once', () => {
    expect(legWaitingFor(leg('a', 'completed', 5), sync(4), [])).toBeNull();
    expect(
      waitingReasons([
        { state: 'running', waitingFor: 'x' },
        { state: 'running', waitingFor: 'x' },
        { state: 'completed', waitingFor: 'old' },
        { state: 'paused', waitingFor: 'paused on b' },
      ]),
    ).toEqual(['x', 'paused on b']);
  });
});

describe('legStateOf', () => {
  it('maps a planned rollout to requested and keeps the others', () => {
    expect(legStateOf('planned')).toBe('requested');
    expect(legStateOf('circuit_open')).toBe('circuit_open');
  });
});

describe('precheckProblem', () => {
  const want = { moduleName: 'web', targetVersion: '1.26.0', group: 'edge' };
  const fine = {
    module_found: true,
    version_found: true,
    lifecycle_state: 'published',
    deployable: true,
    group_found: true,
    instance_count: 3,
  };

  it('accepts a deployable version in a group with instances', () => {
    expect(precheckProblem(fine, want)).toBeNull();
  });

  it('names the missing version, an archived one, and a missing group', () => {
    expect(precheckProblem({ ...fine, version_found: false, deployable: false }, want)).toBe(
      'version 1.26.0 of web is missing',
    );
    expect(precheckProblem({ ...fine, lifecycle_state: 'archived', deployable: false }, want)).toContain('is archived');
    expect(precheckProblem({ ...fine, group_found: false, instance_count: 0 }, want)).toBe('group edge is missing');
  });
});
