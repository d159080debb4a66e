// The approval tools through a real SDK client: list_approvals and get_approval, and decide_approval's
// rules — four-eyes, a second approver starting the rollout, an option required for a circuit-breaker
// continuation, and edits that supersede a plan's request with a new one that neither its requester nor
// any editor may decide (an edit that changes nothing is refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  digestOf,
  enrollGroup,
  makeCrew,
  planUpgrade,
  publishVersion,
  tripBreaker,
  writtenRows,
  type Crew,
} from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

interface ApprovalView {
  id: string;
  kind: string;
  status: string;
  requested_by: string;
  decided_by: string | null;
  option: string | null;
  superseded_by: string | null;
  summary: Record<string, unknown>;
  options: string[];
}

describe.each(STORE_KINDS)('approval tools on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    await publishVersion(crew.admin, 'nginx', '1.24.0', digestOf('a'));
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
  });
  afterAll(() => platform.close());

  /** A fresh group of `count` instances and a pending plan for it, requested by `by`'s operator. */
  async function pendingPlan(
    group: string,
    count: number,
    by = crew.otto,
    extra: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    await enrollGroup(platform, group, count);
    return planUpgrade(by, { group, module_name: 'nginx', target_version_id: '1.26.0', ...extra });
  }

  const approvalOf = async (id: unknown): Promise<ApprovalView> =>
    (await call(crew.vera, 'get_approval', { approval_request_id: id })).data.approval as ApprovalView;

  it('list_approvals pages pending requests newest first and filters by kind', async () => {
    const first = await pendingPlan('list-a', 2);
    platform.clock.advance(1000);
    const second = await pendingPlan('list-b', 2);
    const page1 = await call(crew.vera, 'list_approvals', { status: 'pending', limit: 1 });
    expect((page1.data.approvals as ApprovalView[]).map((a) => a.id)).toEqual([second.approval_request_id]);
    const page2 = await call(crew.vera, 'list_approvals', {
      status: 'pending',
      limit: 1,
      cursor: page1.data.next_cursor,
    });
    expect((page2.data.approvals as ApprovalView[]).map((a) => a.id)).toEqual([first.approval_request_id]);
    const continuations = await call(crew.vera, 'list_approvals', { kind: 'rolling_upgrade_continuation' });
    expect(continuations.data).toEqual({ approvals: [], next_cursor: null });
  });

  it('get_approval refuses an unknown id with not_found', async () => {
    const res = await call(crew.vera, 'get_approval', { approval_request_id: '00000000-0000-4000-8000-000000000000' });
    expect(res.error?.code).toBe('not_found');
  });

  it('refuses the requester deciding their own plan under four-eyes, and changes nothing', async () => {
    const plan = await pendingPlan('four-eyes', 3, crew.alice);
    const before = await writtenRows(platform);
    const res = await call(crew.alice, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
    });
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('four-eyes');
    expect(await writtenRows(platform)).toEqual(before);
    expect((await approvalOf(plan.approval_request_id)).status).toBe('pending');
  });

  it('refuses decide_approval to an operator, naming the approver role', async () => {
    const plan = await pendingPlan('role-check', 2);
    const res = await call(crew.otto, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
    });
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('needs the approver role');
  });

  it('a second approver approves the plan and the rollout starts running', async () => {
    const plan = await pendingPlan('second-approver', 3, crew.alice);
    const res = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      reason: 'maintenance window',
    });
    expect(res.data).toMatchObject({
      approval: { status: 'approved', decided_by: 'bob', decision: 'approve', reason: 'maintenance window' },
      new_approval_request_id: null,
      rollout_state: 'running',
    });
    const again = await call(crew.alice, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'reject',
    });
    expect(again.error?.code).toBe('conflict');
    expect(again.error?.message).toContain('approved');
  });

  it('rejecting a plan aborts its rollout', async () => {
    const plan = await pendingPlan('rejected', 2);
    const res = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'reject',
    });
    expect(res.data).toMatchObject({ approval: { status: 'rejected' }, rollout_state: 'aborted' });
  });

  it('a circuit-breaker continuation needs an option, and abort then stops the rollout', async () => {
    const plan = await pendingPlan('trip', 4, crew.otto, { batch_pct: 50, health_timeout_sec: 60 });
    const continuationId = await tripBreaker(platform, crew.bob, plan, 60);
    const continuation = await approvalOf(continuationId);
    expect(continuation).toMatchObject({
      kind: 'rolling_upgrade_continuation',
      status: 'pending',
      options: ['continue_anyway', 'rollback_completed_batches', 'abort'],
      summary: { batch_index: 0, rollout_id: plan.rollout_id },
    });
    expect(continuation.summary.failed_instance_ids).toHaveLength(2);

    const before = await writtenRows(platform);
    const missing = await call(crew.bob, 'decide_approval', {
      approval_request_id: continuationId,
      decision: 'approve',
    });
    expect(missing.error?.code).toBe('invalid_input');
    expect(missing.error?.message).toContain('option is required: one of continue_anyway');
    const wrong = await call(crew.bob, 'decide_approval', {
      approval_request_id: continuationId,
      decision: 'approve',
      option: 'retry',
    });
    expect(wrong.error?.code).toBe('invalid_input');
    expect(await writtenRows(platform)).toEqual(before);

    const decided = await call(crew.bob, 'decide_approval', {
      approval_request_id: continuationId,
      decision: 'approve',
      option: 'abort',
    });
    expect(decided.data).toMatchObject({ approval: { status: 'approved', option: 'abort' }, rollout_state: 'aborted' });
  });

  it('edits supersede the request with a re-planned one that another approver must decide', async () => {
    const plan = await pendingPlan('edited', 10);
    expect(plan.batch_count).toBe(5);
    const res = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      edits: { batch_pct: 50, max_consecutive_failures: 1 },
      reason: 'tier-1: fewer, stricter batches',
    });
    const newId = res.data.new_approval_request_id as string;
    expect(newId).toEqual(expect.any(String));
    expect(res.data).toMatchObject({
      approval: { id: plan.approval_request_id, status: 'superseded', superseded_by: newId },
      rollout_state: 'pending_approval',
    });
    expect(await approvalOf(newId)).toMatchObject({
      status: 'pending',
      requested_by: 'bob',
      summary: { batch_count: 2, max_consecutive_failures: 1, edited_from: plan.approval_request_id },
    });
    const rollout = await call(crew.vera, 'get_rollout', { rollout_id: plan.rollout_id });
    expect(rollout.data.rollout).toMatchObject({
      approval_request_id: newId,
      strategy: { type: 'batch', batch_pct: 50 },
      circuit_breaker: { max_consecutive_failures: 1 },
      progress: { batch_count: 2, total_instances: 10 },
    });

    const self = await call(crew.bob, 'decide_approval', { approval_request_id: newId, decision: 'approve' });
    expect(self.error?.code).toBe('forbidden');
    const old = await call(crew.alice, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
    });
    expect(old.error).toMatchObject({ code: 'conflict', hint: `decide ${newId} instead` });
    const approved = await call(crew.alice, 'decide_approval', { approval_request_id: newId, decision: 'approve' });
    expect(approved.data.rollout_state).toBe('running');
  });

  it('keeps everyone who requested or edited a plan from approving it, and refuses an edit that changes nothing', async () => {
    const plan = await pendingPlan('edited-twice', 10, crew.alice);
    const rollout = await call(crew.vera, 'get_rollout', { rollout_id: plan.rollout_id });
    const { strategy, circuit_breaker } = rollout.data.rollout as {
      strategy: { batch_pct: number };
      circuit_breaker: { max_consecutive_failures: number };
    };
    const before = await writtenRows(platform);
    const noop = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      edits: { batch_pct: strategy.batch_pct, max_consecutive_failures: circuit_breaker.max_consecutive_failures },
    });
    expect(noop.error).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/change nothing/) });
    expect(await writtenRows(platform)).toEqual(before);

    const edited = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      edits: { batch_pct: 50 },
    });
    const newId = edited.data.new_approval_request_id as string;
    expect(await approvalOf(newId)).toMatchObject({ requested_by: 'bob', excluded_deciders: ['alice'] });
    for (const who of [crew.alice, crew.bob]) {
      const refused = await call(who, 'decide_approval', { approval_request_id: newId, decision: 'approve' });
      expect(refused.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/four-eyes/) });
    }
    // The database itself refuses the original requester's decision, whatever path it takes.
    const direct = platform.store.db
      .updateTable('approval_requests')
      .set({ status: 'approved', decided_by: 'alice', decided_at: platform.clock.now(), decision: 'approve' })
      .where('id', '=', newId)
      .execute();
    await expect(direct).rejects.toMatchObject({ code: '23514', constraint: 'approval_four_eyes' });
    expect(await approvalOf(newId)).toMatchObject({ status: 'pending', decided_by: null });

    const approved = await call(crew.admin, 'decide_approval', { approval_request_id: newId, decision: 'approve' });
    expect(approved.data.rollout_state).toBe('running');
  });

  it('refuses edits with a reject or with an unknown edit field, naming it, and changes nothing', async () => {
    const plan = await pendingPlan('bad-edits', 2);
    const before = await writtenRows(platform);
    const rejectEdits = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'reject',
      edits: { batch_pct: 50 },
    });
    expect(rejectEdits.error?.code).toBe('invalid_input');
    const unknown = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      edits: { batch_size: 5 },
    });
    expect(unknown.error?.code).toBe('invalid_input');
    expect(unknown.error?.message).toContain('batch_size');
    expect(await writtenRows(platform)).toEqual(before);
  });
});
