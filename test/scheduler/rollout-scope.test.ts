// Rolling upgrades scoped to named instances of a group (what a federated deployment's share uses): the
// plan covers only them, bad ids are refused with nothing written, the intervention policy still applies,
// completion leaves the group's baseline alone, and rollback gives the instances their previous version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanInput } from '../../src/services/rollouts-service.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { effectiveVersions, FleetScenario, makeCrew, tick, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('instance-scoped rolling upgrades on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  const input = (fleet: FleetScenario, instanceIds: string[]): PlanInput => ({
    group: { groupName: fleet.group },
    module: { moduleName: fleet.module },
    targetVersionRef: fleet.target.id,
    strategy: { type: 'batch', batch_pct: 50 },
    maxConsecutiveFailures: 2,
    healthTimeoutSec: 300,
    maxFailurePct: null,
    minSample: null,
    soakSec: 0,
    instanceIds,
  });
  const baseline = async (fleet: FleetScenario) =>
    (
      await platform.store.db
        .selectFrom('group_module_versions')
        .innerJoin('groups', 'groups.id', 'group_module_versions.group_id')
        .select('version_id')
        .where('groups.name', '=', fleet.group)
        .executeTakeFirstOrThrow()
    ).version_id;
  const count = async (table: 'rollouts' | 'rollout_targets' | 'approval_requests') =>
    Number(
      (
        await platform.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  async function approveAndRun(fleet: FleetScenario, rolloutId: string, approvalId: string): Promise<void> {
    await platform.app.services.approvals.decide(crew.alice, { id: approvalId, decision: 'approve' });
    for (let i = 0; i < 10; i++) {
      const r = (await platform.app.services.rollouts.get(rolloutId)).rollout;
      if (r.state !== 'running') break;
      await fleet.beat();
      await tick(platform);
    }
  }

  it('plans only the named instances, under the four-eyes policy', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'scoped', 6);
    const ids = fleet.agents.slice(0, 2).map((a) => a.instanceId);
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, ids), false);
    expect(plan).toMatchObject({ state: 'pending_approval', totalInstances: 2, batchCount: 2 });
    expect(new Set(plan.batches.flatMap((b) => b.instanceIds))).toEqual(new Set(ids));
    const rollout = (await platform.app.services.rollouts.get(plan.rolloutId!)).rollout;
    expect(new Set(rollout.instanceIds)).toEqual(new Set(ids));

    await approveAndRun(fleet, plan.rolloutId!, plan.approvalRequestId!);
    expect((await platform.app.services.rollouts.get(plan.rolloutId!)).rollout.state).toBe('completed');
    expect(await baseline(fleet)).toBe(fleet.old.id);
    const versions = await effectiveVersions(
      platform,
      fleet.agents.map((a) => a.instanceId),
      fleet.module,
    );
    for (const a of fleet.agents) {
      expect(versions.get(a.instanceId)).toBe(ids.includes(a.instanceId) ? fleet.target.id : fleet.old.id);
    }
  });

  it('refuses instances outside the group, writing nothing', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'scoped-bad', 2);
    const other = await FleetScenario.create(platform, crew, 'scoped-other', 1);
    const before = [await count('rollouts'), await count('rollout_targets'), await count('approval_requests')];
    await expect(
      platform.app.services.rollouts.plan(
        crew.planner,
        input(fleet, [fleet.agents[0]!.instanceId, other.agents[0]!.instanceId]),
        false,
      ),
    ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('1 of the 2 instance(s)') });
    expect([await count('rollouts'), await count('rollout_targets'), await count('approval_requests')]).toEqual(before);
  });

  it('rolls a scoped rollout back to each instance’s previous version', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'scoped-back', 4);
    const ids = fleet.agents.slice(0, 2).map((a) => a.instanceId);
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, ids), false);
    await platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' });
    await tick(platform);
    await fleet.beat();
    await platform.app.services.rollouts.control(crew.planner, plan.rolloutId!, 'rollback');
    for (let i = 0; i < 10; i++) {
      const r = (await platform.app.services.rollouts.get(plan.rolloutId!)).rollout;
      if (r.state !== 'rolling_back') break;
      await fleet.beat();
      await tick(platform);
    }
    expect((await platform.app.services.rollouts.get(plan.rolloutId!)).rollout.state).toBe('rolled_back');
    const versions = await effectiveVersions(platform, ids, fleet.module);
    for (const id of ids) expect(versions.get(id)).toBe(fleet.old.id);
    expect(await baseline(fleet)).toBe(fleet.old.id);
  });
});
