// Who may decide an approval request, and with which option: pending and unexpired only, never the
// requester under four-eyes, and continuation requests need one of their options. No I/O.
import { describe, expect, it } from 'vitest';
import { checkDecision, CONTINUATION_OPTIONS, type ApprovalRequest } from '../../src/domain/approvals.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');

function request(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    kind: 'rollout_plan',
    subjectType: 'rollout',
    subjectId: '00000000-0000-4000-8000-000000000002',
    summary: {},
    options: [],
    action: 'system.fleet_rolling_upgrade',
    fourEyes: true,
    requestedBy: 'olivia',
    excludedDeciders: [],
    status: 'pending',
    createdAt: new Date(NOW.getTime() - 60_000),
    expiresAt: new Date(NOW.getTime() + 60_000),
    decidedBy: null,
    decidedAt: null,
    decision: null,
    chosenOption: null,
    reason: null,
    edits: null,
    supersededBy: null,
    ...overrides,
  };
}

const continuation = (overrides: Partial<ApprovalRequest> = {}): ApprovalRequest =>
  request({ kind: 'rolling_upgrade_continuation', options: [...CONTINUATION_OPTIONS], ...overrides });

describe('checkDecision on a plan', () => {
  it('lets another operator approve', () => {
    expect(checkDecision(request(), 'alice', 'approve', undefined, NOW)).toBeNull();
  });

  it('refuses the requester under four-eyes', () => {
    expect(checkDecision(request(), 'olivia', 'approve', undefined, NOW)).toEqual({ code: 'four_eyes' });
    expect(checkDecision(request(), 'olivia', 'reject', undefined, NOW)).toEqual({ code: 'four_eyes' });
  });

  it('lets the requester decide when four-eyes is off', () => {
    expect(checkDecision(request({ fourEyes: false }), 'olivia', 'approve', undefined, NOW)).toBeNull();
  });

  it('refuses an expired request, exactly at its expiry too', () => {
    expect(checkDecision(request({ expiresAt: NOW }), 'alice', 'approve', undefined, NOW)).toEqual({
      code: 'expired',
    });
  });

  it('refuses a request that is no longer pending, naming its status', () => {
    for (const status of ['approved', 'rejected', 'expired', 'superseded'] as const) {
      expect(checkDecision(request({ status }), 'alice', 'approve', undefined, NOW)).toEqual({
        code: 'not_pending',
        status,
      });
    }
  });

  it('refuses an option on a request that lists none', () => {
    expect(checkDecision(request(), 'alice', 'approve', 'continue_anyway', NOW)).toEqual({
      code: 'option_not_allowed',
    });
  });
});

describe('checkDecision on a continuation', () => {
  it('requires an option to approve, listing the options', () => {
    expect(checkDecision(continuation(), 'alice', 'approve', undefined, NOW)).toEqual({
      code: 'option_required',
      options: ['continue_anyway', 'rollback_completed_batches', 'abort'],
    });
  });

  it('refuses an option it does not list', () => {
    expect(checkDecision(continuation(), 'alice', 'approve', 'retry', NOW)).toEqual({
      code: 'bad_option',
      options: ['continue_anyway', 'rollback_completed_batches', 'abort'],
    });
  });

  it.each(CONTINUATION_OPTIONS)('accepts %s', (option) => {
    expect(checkDecision(continuation(), 'alice', 'approve', option, NOW)).toBeNull();
  });

  it('accepts a reject without an option and refuses one with an option', () => {
    expect(checkDecision(continuation(), 'alice', 'reject', undefined, NOW)).toBeNull();
    expect(checkDecision(continuation(), 'alice', 'reject', 'abort', NOW)).toEqual({ code: 'option_not_allowed' });
  });

  it('checks four-eyes before the option', () => {
    expect(checkDecision(continuation(), 'olivia', 'approve', 'bogus', NOW)).toEqual({ code: 'four_eyes' });
  });
});
