// The circuit breaker driven by the runner, on every store: two failures in a row open it with the
// tutorial's event and a continuation approval; continue_anyway resumes without re-tripping on what was
// already seen; rollback_completed_batches restores every changed instance (refused up front when the
// previous version is archived); abort leaves instances where they are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/services/rollouts-service.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';
import { effectiveVersions, FleetScenario, makeCrew, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';

describe.each(STORE_KINDS)('circuit breaker on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  const rollout = async (id: string) => (await platform.app.services.rollouts.get(id)).rollout;

  /**
   * 10 instances in 5 batches of 2 upgrading to the broken version; the instances `fail` picks out of
   * the plan report health failed on it. Runs until the breaker opens (or the rollout ends).
   */
  async function tripAtBatch1(
    name: string,
    fail: (plan: Plan) => string[] = (plan) => plan.batches[1]!.instanceIds,
  ): Promise<{ fleet: FleetScenario; plan: Plan; id: string }> {
    const fleet = await FleetScenario.create(platform, crew, name, 10);
    const plan = await fleet.planApproved({ target_version_id: fleet.broken.id });
    const failing = new Set(fail(plan));
    fleet.failing = (instanceId) => failing.has(instanceId);
    const id = plan.rolloutId!;
    await tick(platform);
    for (let i = 0; i < 10 && (await rollout(id)).state === 'running'; i++) {
      await fleet.beat();
      await tick(platform);
    }
    return { fleet, plan, id };
  }

  /** The continuation request a trip opened. */
  async function continuationOf(id: string) {
    const r = await rollout(id);
    return platform.app.services.approvals.get(r.approvalRequestId!);
  }

  it('opens after 2 consecutive failures with the tutorial event and a continuation approval', async () => {
    const { plan, id } = await tripAtBatch1('trip');
    expect(await rollout(id)).toMatchObject({ state: 'circuit_open', breakerTrips: 1, currentBatch: 1 });

    const tripped = await rolloutEvents(platform, id, 'circuit_breaker_tripped');
    expect(tripped).toHaveLength(1);
    const approval = await continuationOf(id);
    expect(tripped[0]!.payload).toMatchObject({
      rollout_id: id,
      batch_index: 1,
      failed_instance_ids: plan.batches[1]!.instanceIds,
      reason: 'max_consecutive_failures (2) exceeded',
      approval_request_id: approval.id,
      from_state: 'running',
      to_state: 'circuit_open',
    });
    expect(approval).toMatchObject({
      kind: 'rolling_upgrade_continuation',
      subjectId: id,
      status: 'pending',
      options: ['continue_anyway', 'rollback_completed_batches', 'abort'],
      fourEyes: true,
      summary: expect.objectContaining({ batch_index: 1, failed_instance_ids: plan.batches[1]!.instanceIds }),
    });
  });

  it('starts no further batch while open', async () => {
    const { fleet, id } = await tripAtBatch1('held');
    for (let i = 0; i < 3; i++) {
      platform.clock.advance(60_000);
      await fleet.beat();
      await tick(platform);
    }
    expect((await rolloutEvents(platform, id, 'batch_started')).map((e) => e.payload.batch_index)).toEqual([0, 1]);
    expect((await rolloutEvents(platform, id, 'batch_completed')).map((e) => e.payload.batch_index)).toEqual([0]);
    expect((await rollout(id)).state).toBe('circuit_open');
  });

  it('continue_anyway resumes, and the failures already seen do not trip it again', async () => {
    // Batch 1 fails entirely, then the first instance of batch 2 fails too: without the reset that
    // would be a third failure in a row.
    const { fleet, plan, id } = await tripAtBatch1('continue', (p) => [
      ...p.batches[1]!.instanceIds,
      p.batches[2]!.instanceIds[0]!,
    ]);
    const approval = await continuationOf(id);
    const decided = await platform.app.services.approvals.decide(crew.bob, {
      id: approval.id,
      decision: 'approve',
      option: 'continue_anyway',
    });
    expect(decided.rolloutState).toBe('running');
    expect(await rollout(id)).toMatchObject({ consecutiveFailures: 0, failureRunIds: [], approvalRequestId: null });

    for (let i = 0; i < 10 && (await rollout(id)).state === 'running'; i++) {
      await tick(platform);
      await fleet.beat();
    }
    expect(await rollout(id)).toMatchObject({ state: 'completed', breakerTrips: 1, failedTotal: 3, healthyTotal: 7 });
    expect(await rolloutEvents(platform, id, 'circuit_breaker_tripped')).toHaveLength(1);
    const batch2 = (await rolloutEvents(platform, id, 'batch_completed')).find((e) => e.payload.batch_index === 2);
    expect(batch2?.payload).toMatchObject({ healthy_count: 1, failed_count: 1 });
    expect(plan.batchCount).toBe(5);
  });

  it('rollback_completed_batches restores every instance the rollout changed, failed ones included', async () => {
    const { fleet, plan, id } = await tripAtBatch1('rollback');
    const changed = [...plan.batches[0]!.instanceIds, ...plan.batches[1]!.instanceIds];
    const untouched = plan.batches.slice(2).flatMap((b) => b.instanceIds);
    const all = fleet.agents.map((a) => a.instanceId);
    expect(changed.every((i) => fleet.agent(i).running[fleet.module] === fleet.broken.digest)).toBe(true);

    const decided = await platform.app.services.approvals.decide(crew.bob, {
      id: (await continuationOf(id)).id,
      decision: 'approve',
      option: 'rollback_completed_batches',
    });
    expect(decided.rolloutState).toBe('rolling_back');
    const desired = await effectiveVersions(platform, all, fleet.module);
    for (const i of all) expect(desired.get(i)).toBe(fleet.old.id);

    await fleet.beat();
    await tick(platform);
    expect(await rollout(id)).toMatchObject({ state: 'rolled_back' });
    for (const i of all) expect(fleet.agent(i).running[fleet.module]).toBe(fleet.old.digest);

    const targets = await platform.app.services.rollouts.targets(id, { limit: 100 });
    const stateOf = new Map(targets.items.map((t) => [t.instanceId, t.state]));
    for (const i of changed) expect(stateOf.get(i)).toBe('rolled_back');
    for (const i of untouched) expect(stateOf.get(i)).toBe('skipped');
    expect(
      (await rolloutEvents(platform, id)).filter((e) => e.kind === 'module.upgrade.instance_started'),
    ).toHaveLength(4);
    expect((await rolloutEvents(platform, id, 'rolled_back')).map((e) => e.payload.to_state)).toEqual(['rolled_back']);
  });

  it('after a rollback, instances that followed the group baseline follow it again', async () => {
    const { fleet, plan, id } = await tripAtBatch1('rollback-follow');
    await platform.app.services.approvals.decide(crew.bob, {
      id: (await continuationOf(id)).id,
      decision: 'approve',
      option: 'rollback_completed_batches',
    });
    await fleet.beat();
    await tick(platform);
    expect((await rollout(id)).state).toBe('rolled_back');

    const pinned = await platform.store.db
      .selectFrom('instance_desired_versions')
      .select('instance_id')
      .where('module_id', '=', plan.module.id)
      .execute();
    expect(pinned).toEqual([]);
    // So a later group-wide assignment reaches every instance, the rolled-back ones too.
    await platform.app.services.fleet.assign(crew.admin, {
      group: { groupName: fleet.group },
      module: { moduleName: fleet.module },
      versionRef: fleet.target.id,
    });
    const desired = await effectiveVersions(
      platform,
      fleet.agents.map((a) => a.instanceId),
      fleet.module,
    );
    expect(new Set(desired.values())).toEqual(new Set([fleet.target.id]));
  });

  it('refuses a rollback up front, naming the version, when the previous version was archived', async () => {
    const { fleet, plan, id } = await tripAtBatch1('archived');
    await platform.app.services.modules.promote(crew.admin, { versionRef: fleet.old.id, to: 'archived' });
    const approval = await continuationOf(id);
    const changed = [...plan.batches[0]!.instanceIds, ...plan.batches[1]!.instanceIds];
    const eventsBefore = (await rolloutEvents(platform, id)).length;

    const attempt = platform.app.services.approvals.decide(crew.bob, {
      id: approval.id,
      decision: 'approve',
      option: 'rollback_completed_batches',
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/previous version 1\.24\.0 of .* is archived/),
    });

    expect((await platform.app.services.approvals.get(approval.id)).status).toBe('pending');
    expect(await rollout(id)).toMatchObject({ state: 'circuit_open', approvalRequestId: approval.id });
    expect(await rolloutEvents(platform, id)).toHaveLength(eventsBefore);
    const desired = await effectiveVersions(platform, changed, fleet.module);
    for (const i of changed) expect(desired.get(i)).toBe(fleet.broken.id);
    const rollingBack = await platform.app.services.rollouts.targets(id, { limit: 100 });
    expect(rollingBack.items.filter((t) => t.state === 'rolling_back' || t.state === 'skipped')).toEqual([]);
  });

  it('abort stops the rollout and leaves every instance as it is', async () => {
    const { fleet, plan, id } = await tripAtBatch1('abort');
    const all = fleet.agents.map((a) => a.instanceId);
    const before = await effectiveVersions(platform, all, fleet.module);

    const decided = await platform.app.services.approvals.decide(crew.bob, {
      id: (await continuationOf(id)).id,
      decision: 'approve',
      option: 'abort',
    });
    expect(decided.rolloutState).toBe('aborted');
    const eventsAfterAbort = (await rolloutEvents(platform, id)).length;
    platform.clock.advance(600_000);
    await fleet.beat();
    await tick(platform);

    expect(await rollout(id)).toMatchObject({ state: 'aborted', reason: expect.stringContaining('bob') });
    expect(await effectiveVersions(platform, all, fleet.module)).toEqual(before);
    for (const i of [...plan.batches[0]!.instanceIds, ...plan.batches[1]!.instanceIds]) {
      expect(fleet.agent(i).running[fleet.module]).toBe(fleet.broken.digest);
    }
    for (const i of plan.batches.slice(2).flatMap((b) => b.instanceIds)) {
      expect(fleet.agent(i).running[fleet.module]).toBe(fleet.old.digest);
    }
    expect(await rolloutEvents(platform, id)).toHaveLength(eventsAfterAbort);
  });

  it('failures judged while paused still open the breaker on resume, before another batch starts', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'paused-failures', 10);
    const plan = await fleet.planApproved({ target_version_id: fleet.broken.id });
    const id = plan.rolloutId!;
    const failing = new Set(plan.batches[1]!.instanceIds);
    fleet.failing = (instanceId) => failing.has(instanceId);
    await tick(platform);
    await fleet.beat();
    await tick(platform); // batch 0 healthy, batch 1 started
    await platform.app.services.rollouts.control(crew.planner, id, 'pause');
    await fleet.beat();
    await tick(platform); // batch 1's two failures are judged while paused
    expect(await rollout(id)).toMatchObject({ state: 'paused', consecutiveFailures: 2 });

    await platform.app.services.rollouts.control(crew.planner, id, 'resume');
    await tick(platform);
    expect(await rollout(id)).toMatchObject({ state: 'circuit_open', breakerTrips: 1 });
    expect((await rolloutEvents(platform, id, 'batch_started')).map((e) => e.payload.batch_index)).toEqual([0, 1]);
    const tripped = await rolloutEvents(platform, id, 'circuit_breaker_tripped');
    expect(tripped.map((e) => e.payload)).toEqual([
      expect.objectContaining({
        batch_index: 1,
        failed_instance_ids: plan.batches[1]!.instanceIds,
        reason: 'max_consecutive_failures (2) exceeded',
      }),
    ]);
  });

  it('refuses the requester deciding their own continuation (four-eyes)', async () => {
    const { id } = await tripAtBatch1('own');
    const approval = await continuationOf(id);
    expect(approval.requestedBy).toBe('planner');
    const alicePlanned = await FleetScenario.create(platform, crew, 'own-alice', 2);
    const plan = await alicePlanned.plan({ batch_pct: 50 }, crew.alice);
    await expect(
      platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' }),
    ).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('four-eyes') });
  });
});
