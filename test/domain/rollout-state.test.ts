// The rollout state machine as a table: every legal transition, a sample of illegal ones, and the
// terminal states that accept nothing. No I/O.
import { describe, expect, it } from 'vitest';
import {
  ACTIVE_ROLLOUT_STATES,
  isActiveRollout,
  legalRolloutEvents,
  nextRolloutState,
  ROLLOUT_STATES,
  type RolloutEvent,
  type RolloutState,
} from '../../src/domain/rollout-state.js';

const LEGAL: Array<[RolloutState, RolloutEvent, RolloutState]> = [
  ['planned', 'submit_for_approval', 'pending_approval'],
  ['planned', 'auto_approve', 'running'],
  ['planned', 'abort', 'aborted'],
  ['pending_approval', 'approve', 'running'],
  ['pending_approval', 'reject', 'aborted'],
  ['pending_approval', 'expire', 'aborted'],
  ['pending_approval', 'abort', 'aborted'],
  ['running', 'pause', 'paused'],
  ['running', 'trip', 'circuit_open'],
  ['running', 'complete', 'completed'],
  ['running', 'rollback', 'rolling_back'],
  ['running', 'abort', 'aborted'],
  ['running', 'fail', 'failed'],
  ['paused', 'resume', 'running'],
  ['paused', 'rollback', 'rolling_back'],
  ['paused', 'abort', 'aborted'],
  ['circuit_open', 'continue', 'running'],
  ['circuit_open', 'rollback', 'rolling_back'],
  ['circuit_open', 'abort', 'aborted'],
  ['circuit_open', 'expire', 'aborted'],
  ['rolling_back', 'rolled_back', 'rolled_back'],
  ['rolling_back', 'fail', 'failed'],
];

const ILLEGAL: Array<[RolloutState, RolloutEvent]> = [
  ['planned', 'approve'],
  ['pending_approval', 'pause'],
  ['pending_approval', 'complete'],
  ['running', 'approve'],
  ['running', 'resume'],
  ['running', 'continue'],
  ['paused', 'pause'],
  ['paused', 'trip'],
  ['paused', 'complete'],
  ['circuit_open', 'resume'],
  ['circuit_open', 'trip'],
  ['circuit_open', 'complete'],
  ['rolling_back', 'abort'],
  ['rolling_back', 'pause'],
  ['rolling_back', 'continue'],
];

const TERMINAL: RolloutState[] = ['completed', 'aborted', 'rolled_back', 'failed'];

describe('nextRolloutState', () => {
  it.each(LEGAL)('%s --%s--> %s', (from, event, to) => {
    expect(nextRolloutState(from, event)).toBe(to);
  });

  it.each(ILLEGAL)('%s refuses %s', (from, event) => {
    expect(nextRolloutState(from, event)).toBeNull();
  });

  it('has exactly the legal transitions listed, no others', () => {
    const events = [...new Set(LEGAL.map(([, e]) => e))];
    const found: Array<[RolloutState, RolloutEvent, RolloutState]> = [];
    for (const from of ROLLOUT_STATES) {
      for (const event of events) {
        const to = nextRolloutState(from, event);
        if (to !== null) found.push([from, event, to]);
      }
    }
    expect(found).toEqual(expect.arrayContaining(LEGAL));
    expect(found).toHaveLength(LEGAL.length);
  });

  it.each(TERMINAL)('the terminal state %s accepts no event', (state) => {
    expect(legalRolloutEvents(state)).toEqual([]);
    expect(isActiveRollout(state)).toBe(false);
  });
});

describe('legalRolloutEvents', () => {
  it('lists what a circuit_open rollout can do (for error hints)', () => {
    expect(legalRolloutEvents('circuit_open').sort()).toEqual(['abort', 'continue', 'expire', 'rollback']);
  });
});

describe('active states', () => {
  it('are every non-terminal state', () => {
    expect([...ACTIVE_ROLLOUT_STATES].sort()).toEqual(ROLLOUT_STATES.filter((s) => !TERMINAL.includes(s)).sort());
  });
});
