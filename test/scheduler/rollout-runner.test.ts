// The rollout runner on a manual clock, on every store: an approved plan starts on the next tick and
// walks its batches with the tutorial's events, completion leaves no drift and moves the group's
// baseline, a silent instance fails at health_timeout_sec, pause holds new batches, soak_sec spaces them.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';
import { effectiveVersions, FleetScenario, makeCrew, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';

describe.each(STORE_KINDS)('rollout runner on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let admin: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    admin = await platform.memoryClient();
  });
  afterAll(() => platform.close());

  const rollout = async (id: string) => (await platform.app.services.rollouts.get(id)).rollout;

  /** Heartbeats and ticks until the rollout leaves `running`, at most `maxTicks` times. */
  async function runToEnd(fleet: FleetScenario, id: string, maxTicks = 20): Promise<void> {
    for (let i = 0; i < maxTicks && (await rollout(id)).state === 'running'; i++) {
      await fleet.beat();
      await tick(platform);
    }
  }

  it('plans 10 instances at 20% as 5 batches of 2 and waits for approval', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'plan', 10);
    const plan = await fleet.plan();
    expect(plan).toMatchObject({
      state: 'pending_approval',
      totalInstances: 10,
      batchSize: 2,
      batchCount: 5,
      estimatedTotalSeconds: 1500,
      circuitBreaker: { maxConsecutiveFailures: 2 },
      policy: { mode: 'require_approval', fourEyes: true },
    });
    expect(plan.batches.map((b) => b.instanceIds.length)).toEqual([2, 2, 2, 2, 2]);
    expect(new Set(plan.batches.flatMap((b) => b.instanceIds))).toEqual(new Set(fleet.agents.map((a) => a.instanceId)));

    await tick(platform);
    expect((await rollout(plan.rolloutId!)).state).toBe('pending_approval');
    expect(await rolloutEvents(platform, plan.rolloutId!, 'batch_started')).toEqual([]);
  });

  it('starts an approved plan on the next tick, not at the approval', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'pickup', 10);
    const plan = await fleet.planApproved();
    const id = plan.rolloutId!;
    expect((await rollout(id)).state).toBe('running');
    expect(await rolloutEvents(platform, id, 'batch_started')).toEqual([]);

    await tick(platform);
    const started = await rolloutEvents(platform, id, 'batch_started');
    expect(started.map((e) => e.payload)).toEqual([{ rollout_id: id, batch_index: 0, instance_count: 2 }]);
    const instances = await rolloutEvents(platform, id, 'instance_started');
    expect(
      instances.map((e) => e.payload).sort((a, b) => String(a.instance_id).localeCompare(String(b.instance_id))),
    ).toEqual(
      [...plan.batches[0]!.instanceIds]
        .sort()
        .map((instanceId) => ({ rollout_id: id, batch_index: 0, instance_id: instanceId, target_version: '1.26.0' })),
    );
    const desired = await effectiveVersions(
      platform,
      fleet.agents.map((a) => a.instanceId),
      fleet.module,
    );
    for (const a of fleet.agents) {
      expect(desired.get(a.instanceId)).toBe(
        plan.batches[0]!.instanceIds.includes(a.instanceId) ? fleet.target.id : fleet.old.id,
      );
    }
  });

  it('walks the batches in order with the tutorial events and their fields', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'walk', 10);
    const plan = await fleet.planApproved();
    const id = plan.rolloutId!;
    await tick(platform);
    await runToEnd(fleet, id);
    expect((await rollout(id)).state).toBe('completed');

    const events = await rolloutEvents(platform, id);
    const batchEvents = events
      .filter((e) => e.kind === 'module.upgrade.batch_started' || e.kind === 'module.upgrade.batch_completed')
      .map((e) => [e.kind.slice('module.upgrade.'.length), e.payload.batch_index]);
    expect(batchEvents).toEqual(
      [0, 1, 2, 3, 4].flatMap((i) => [
        ['batch_started', i],
        ['batch_completed', i],
      ]),
    );
    for (const e of events.filter((e) => e.kind === 'module.upgrade.batch_completed')) {
      expect(e.payload).toEqual({
        rollout_id: id,
        batch_index: e.payload.batch_index,
        healthy_count: 2,
        failed_count: 0,
        skipped_count: 0,
      });
    }
    const checks = events.filter((e) => e.kind === 'module.upgrade.instance_health_check');
    expect(checks).toHaveLength(10);
    for (const [index, batch] of plan.batches.entries()) {
      const ofBatch = checks.filter((e) => e.payload.batch_index === index);
      expect(ofBatch.map((e) => e.payload.instance_id).sort()).toEqual([...batch.instanceIds].sort());
      for (const e of ofBatch) expect(e.payload).toMatchObject({ rollout_id: id, healthy: true });
    }
    // Every instance's health check comes after its own start and before the next batch starts.
    const order = events.map((e) => `${e.kind}:${String(e.payload.instance_id ?? e.payload.batch_index)}`);
    for (const a of fleet.agents) {
      expect(order.indexOf(`module.upgrade.instance_started:${a.instanceId}`)).toBeLessThan(
        order.indexOf(`module.upgrade.instance_health_check:${a.instanceId}`),
      );
    }
  });

  it('completes with no drift, the group baseline on the target and no leftover overrides', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'complete', 10);
    const plan = await fleet.planApproved();
    const id = plan.rolloutId!;
    await tick(platform);
    await runToEnd(fleet, id);

    expect(await rollout(id)).toMatchObject({ state: 'completed', healthyTotal: 10, failedTotal: 0 });
    const completed = await rolloutEvents(platform, id, 'completed');
    expect(completed.map((e) => e.payload)).toEqual([
      expect.objectContaining({ healthy_total: 10, failed_total: 0, batch_count: 5, to_state: 'completed' }),
    ]);
    const drift = await call(admin, 'drift_report', { group: fleet.group });
    expect(drift.data).toMatchObject({ drift: false, instance_count: 10, drifted_count: 0 });

    const baseline = await platform.store.db
      .selectFrom('group_module_versions')
      .select('version_id')
      .where('group_id', '=', plan.group.id)
      .where('module_id', '=', plan.module.id)
      .executeTakeFirstOrThrow();
    expect(baseline.version_id).toBe(fleet.target.id);
    const overrides = await platform.store.db
      .selectFrom('instance_desired_versions')
      .select('instance_id')
      .where('module_id', '=', plan.module.id)
      .execute();
    expect(overrides).toEqual([]);
    const sample = await platform.app.services.fleet.getInstance(fleet.agents[0]!.instanceId);
    expect(sample.runningModuleDigests[fleet.module]).toBe(fleet.target.digest);
  });

  it('fails an instance that sends no healthy heartbeat within health_timeout_sec', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'timeout', 2);
    const plan = await fleet.planApproved({ batch_pct: 50, health_timeout_sec: 60, max_consecutive_failures: 5 });
    const id = plan.rolloutId!;
    const [silent] = plan.batches[0]!.instanceIds;
    await tick(platform);

    platform.clock.advance(59_999);
    await tick(platform);
    expect(await rolloutEvents(platform, id, 'instance_health_check')).toEqual([]);

    platform.clock.advance(1);
    await tick(platform);
    const checks = await rolloutEvents(platform, id, 'instance_health_check');
    expect(checks.map((e) => e.payload)).toEqual([
      {
        rollout_id: id,
        instance_id: silent,
        batch_index: 0,
        healthy: false,
        reason: expect.stringContaining('health_timeout_sec'),
      },
    ]);
    const targets = await platform.app.services.rollouts.targets(id, { batchIndex: 0, limit: 10 });
    expect(targets.items).toEqual([
      expect.objectContaining({
        instanceId: silent,
        state: 'failed',
        outcomeReason: expect.stringContaining('health_timeout_sec'),
      }),
    ]);
    const completed = await rolloutEvents(platform, id, 'batch_completed');
    expect(completed.map((e) => e.payload)).toEqual([
      expect.objectContaining({ batch_index: 0, healthy_count: 0, failed_count: 1 }),
    ]);
  });

  it('does not count a healthy heartbeat that arrives after the deadline', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'late', 2);
    const plan = await fleet.planApproved({ batch_pct: 50, health_timeout_sec: 60, max_consecutive_failures: 5 });
    const id = plan.rolloutId!;
    await tick(platform);
    platform.clock.advance(60_001);
    await fleet.beat();
    await tick(platform);
    const checks = await rolloutEvents(platform, id, 'instance_health_check');
    expect(checks.map((e) => e.payload.healthy)).toEqual([false]);
  });

  it('holds new batches while paused and continues on resume', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'pause', 6);
    const plan = await fleet.planApproved({ batch_pct: 50 });
    const id = plan.rolloutId!;
    const { rollouts } = platform.app.services;
    await tick(platform);
    expect((await rollouts.control(crew.planner, id, 'pause', 'change freeze')).state).toBe('paused');

    for (let i = 0; i < 3; i++) {
      await fleet.beat();
      platform.clock.advance(1000);
      await tick(platform);
    }
    expect((await rolloutEvents(platform, id, 'batch_started')).map((e) => e.payload.batch_index)).toEqual([0]);
    expect(await rolloutEvents(platform, id, 'batch_completed')).toEqual([]);
    // In-flight instances are still judged while paused.
    expect(await rolloutEvents(platform, id, 'instance_health_check')).toHaveLength(3);

    expect((await rollouts.control(crew.planner, id, 'resume')).state).toBe('running');
    await tick(platform);
    expect((await rolloutEvents(platform, id, 'batch_started')).map((e) => e.payload.batch_index)).toEqual([0, 1]);
    await runToEnd(fleet, id);
    expect((await rollout(id)).state).toBe('completed');
  });

  it('waits soak_sec after a batch before starting the next, and not after the last', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'soak', 4);
    const plan = await fleet.planApproved({ batch_pct: 50, soak_sec: 600 });
    expect(plan.estimatedTotalSeconds).toBe(2 * 300 + 600);
    const id = plan.rolloutId!;
    const startedBatches = async () =>
      (await rolloutEvents(platform, id, 'batch_started')).map((e) => e.payload.batch_index);
    await tick(platform);
    await fleet.beat();
    await tick(platform);
    expect((await rolloutEvents(platform, id, 'batch_completed')).map((e) => e.payload.batch_index)).toEqual([0]);
    expect(await startedBatches()).toEqual([0]);

    platform.clock.advance(599_999);
    await fleet.beat();
    await tick(platform);
    expect(await startedBatches()).toEqual([0]);

    platform.clock.advance(1);
    await tick(platform);
    expect(await startedBatches()).toEqual([0, 1]);

    await fleet.beat();
    await tick(platform);
    expect((await rollout(id)).state).toBe('completed');
  });
});
