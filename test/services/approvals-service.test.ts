// Approval decisions against the real database: two approvers deciding at once produce exactly one
// decision, the four-eyes rule and the approver role hold even for a hand-written UPDATE, and a request
// left pending past its expiry fails closed (its rollout stops; it can no longer be decided).
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_TTL_MS } from '../../src/domain/approvals.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';
import { FleetScenario, makeCrew, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';

describe.each(STORE_KINDS)('approval decisions on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  const rollout = async (id: string) => (await platform.app.services.rollouts.get(id)).rollout;

  it('lets exactly one of two approvers deciding at once win', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'race', 4);
    const plan = await fleet.plan();
    const { approvals } = platform.app.services;
    const outcomes = await Promise.allSettled([
      approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' }),
      approvals.decide(crew.bob, { id: plan.approvalRequestId!, decision: 'approve' }),
    ]);

    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 'conflict' });
    const decided = await approvals.get(plan.approvalRequestId!);
    expect(decided.status).toBe('approved');
    expect(['alice', 'bob']).toContain(decided.decidedBy);
    expect((await rollout(plan.rolloutId!)).state).toBe('running');
    expect(await rolloutEvents(platform, plan.rolloutId!, 'approval.approved')).toHaveLength(1);
    expect(await rolloutEvents(platform, plan.rolloutId!, 'approved')).toHaveLength(1);
  });

  it('never deadlocks a decision against an abort of the same rollout', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 8; round++) {
      const fleet = await FleetScenario.create(platform, crew, `decide-abort-${round}`, 1);
      const plan = await fleet.plan();
      const outcomes = await Promise.allSettled([
        platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' }),
        platform.app.services.rollouts.control(crew.planner, plan.rolloutId!, 'abort'),
      ]);
      for (const o of outcomes) {
        const code = o.status === 'rejected' ? (o.reason as { code?: string }).code : undefined;
        if (o.status === 'rejected' && code !== 'conflict') failures.push(`${code}: ${String(o.reason)}`);
      }
      expect((await rollout(plan.rolloutId!)).state).toBe('aborted');
    }
    expect(failures).toEqual([]);
  });

  it('never deadlocks the expiry against an abort of the same rollout', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 8; round++) {
      const fleet = await FleetScenario.create(platform, crew, `expire-abort-${round}`, 1);
      const plan = await fleet.plan();
      const at = new Date(platform.clock.now().getTime() + APPROVAL_TTL_MS);
      const outcomes = await Promise.allSettled([
        platform.app.services.approvals.expireDue(at),
        platform.app.services.rollouts.control(crew.planner, plan.rolloutId!, 'abort'),
      ]);
      for (const o of outcomes) {
        const code = o.status === 'rejected' ? (o.reason as { code?: string }).code : undefined;
        if (o.status === 'rejected' && code !== 'illegal_transition') failures.push(`${code}: ${String(o.reason)}`);
      }
      expect((await rollout(plan.rolloutId!)).state).toBe('aborted');
    }
    expect(failures).toEqual([]);
  });

  it('refuses, in the database, an UPDATE that makes the requester the decider of a four-eyes request', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'four-eyes-sql', 2);
    const plan = await fleet.plan({}, crew.alice); // alice is an approver, so only four-eyes can refuse her
    const approval = await platform.app.services.approvals.get(plan.approvalRequestId!);
    expect(approval).toMatchObject({ fourEyes: true, requestedBy: 'alice' });

    const attempt = sql`
      UPDATE approval_requests SET status = 'approved', decision = 'approve', decided_by = requested_by,
        decided_at = now()
      WHERE id = ${approval.id}`.execute(platform.store.db);
    await expect(attempt).rejects.toMatchObject({ code: '23514', constraint: 'approval_four_eyes' });
    expect((await platform.app.services.approvals.get(approval.id)).status).toBe('pending');
  });

  it('refuses, in the database, a decider who is not an approver', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'role-sql', 2);
    const plan = await fleet.plan({}, crew.alice);
    const attempt = sql`
      UPDATE approval_requests SET status = 'approved', decision = 'approve', decided_by = 'planner',
        decided_at = now()
      WHERE id = ${plan.approvalRequestId!}`.execute(platform.store.db);
    await expect(attempt).rejects.toMatchObject({ code: '42501' });
  });

  it('expires a plan left pending for 24 h: the rollout is aborted and the request can no longer be decided', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'expiry', 4);
    const plan = await fleet.plan();
    const id = plan.rolloutId!;

    platform.clock.advance(APPROVAL_TTL_MS - 1);
    await tick(platform);
    expect((await platform.app.services.approvals.get(plan.approvalRequestId!)).status).toBe('pending');

    platform.clock.advance(1);
    await tick(platform);
    expect((await platform.app.services.approvals.get(plan.approvalRequestId!)).status).toBe('expired');
    expect(await rollout(id)).toMatchObject({
      state: 'aborted',
      reason: `approval request ${plan.approvalRequestId!} expired`,
    });
    expect(await rolloutEvents(platform, id, 'approval.expired')).toHaveLength(1);
    expect(await rolloutEvents(platform, id, 'batch_started')).toEqual([]);

    await expect(
      platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' }),
    ).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('is expired') });
    expect((await rollout(id)).state).toBe('aborted');
  });

  it('refuses a decision made after the expiry even before the reconciler has expired it', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'expiry-late', 2);
    const plan = await fleet.plan();
    platform.clock.advance(APPROVAL_TTL_MS);
    await expect(
      platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' }),
    ).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('expired') });
    expect((await rollout(plan.rolloutId!)).state).toBe('pending_approval');
  });

  it('frees the group for a new plan once the expired one is aborted', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'expiry-replan', 2);
    const first = await fleet.plan();
    await expect(fleet.plan()).rejects.toMatchObject({ code: 'conflict' });
    platform.clock.advance(APPROVAL_TTL_MS);
    await tick(platform);
    expect((await rollout(first.rolloutId!)).state).toBe('aborted');
    expect((await fleet.plan()).state).toBe('pending_approval');
  });
});
