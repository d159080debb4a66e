// RolloutsService.plan with instanceIds: refusals name each id and write nothing, a dry run previews only
// the named instances, overrides held before the rollout survive completion (elsewhere) and come back on
// rollback (for the targets), an approver's edit re-plans within the scope, and the tools show the scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleVersion } from '../../src/domain/types.js';
import type { PlanInput } from '../../src/services/rollouts-service.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { effectiveVersions, FleetScenario, makeCrew, randomDigest, tick, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('RolloutsService.plan scoped to instances on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  const input = (fleet: FleetScenario, instanceIds: readonly string[], batchPct = 50): PlanInput => ({
    group: { groupName: fleet.group },
    module: { moduleName: fleet.module },
    targetVersionRef: fleet.target.id,
    strategy: { type: 'batch', batch_pct: batchPct },
    maxConsecutiveFailures: 2,
    healthTimeoutSec: 300,
    maxFailurePct: null,
    minSample: null,
    soakSec: 0,
    instanceIds,
  });
  const ids = (fleet: FleetScenario, ...indexes: number[]) => indexes.map((i) => fleet.agents[i]!.instanceId);
  const written = async () =>
    Promise.all(
      (['rollouts', 'rollout_targets', 'rollout_batches', 'approval_requests', 'events'] as const).map(
        async (table) =>
          (
            await platform.store.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
      ),
    );
  /** Per-instance desired versions (overrides) of the fleet's module, by instance id. */
  const overrides = async (fleet: FleetScenario) => {
    const rows = await platform.store.db
      .selectFrom('instance_desired_versions as d')
      .innerJoin('modules as m', 'm.id', 'd.module_id')
      .select(['d.instance_id', 'd.version_id'])
      .where('m.name', '=', fleet.module)
      .execute();
    return new Map(rows.map((r) => [r.instance_id, r.version_id]));
  };
  const baseline = async (fleet: FleetScenario) =>
    (
      await platform.store.db
        .selectFrom('group_module_versions as g')
        .innerJoin('groups', 'groups.id', 'g.group_id')
        .select('g.version_id')
        .where('groups.name', '=', fleet.group)
        .executeTakeFirstOrThrow()
    ).version_id;
  /** A fourth version, pinned on `pinned` instances before any rollout (they run it after a beat). */
  async function pin(fleet: FleetScenario, pinned: string[]): Promise<ModuleVersion> {
    const { version } = await platform.app.services.modules.publish(crew.admin, {
      moduleName: fleet.module,
      version: '1.25.0',
      digest: randomDigest(),
      draft: false,
    });
    await platform.app.services.fleet.assign(crew.admin, {
      group: { groupName: fleet.group },
      module: { moduleName: fleet.module },
      versionRef: version.id,
      instanceIds: pinned,
    });
    await fleet.beat();
    return version;
  }
  async function runWhile(fleet: FleetScenario, rolloutId: string, state: string): Promise<string> {
    for (let i = 0; i < 20; i++) {
      const r = (await platform.app.services.rollouts.get(rolloutId)).rollout;
      if (r.state !== state) return r.state;
      await fleet.beat();
      await tick(platform);
    }
    return (await platform.app.services.rollouts.get(rolloutId)).rollout.state;
  }

  it('refuses terminated instances and instances of another group, naming each, writing nothing', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-refuse', 3);
    const other = await FleetScenario.create(platform, crew, 'sc-refuse-other', 1);
    const gone = fleet.agents[2]!.instanceId;
    await platform.app.services.fleet.terminate(crew.admin, gone);
    const stranger = other.agents[0]!.instanceId;
    const unknown = '00000000-0000-4000-8000-000000000000';
    const before = await written();
    const refusal = platform.app.services.rollouts.plan(
      crew.planner,
      input(fleet, [fleet.agents[0]!.instanceId, gone, stranger, unknown]),
      false,
    );
    await expect(refusal).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining(
        `3 of the 4 instance(s) named are not live instances of group ${fleet.group}: ` +
          `${gone} (terminated), ${stranger} (not in the group), ${unknown} (not in the group)`,
      ),
      details: { terminated: [gone], not_in_group: [stranger, unknown] },
    });
    expect(await written()).toEqual(before);
  });

  it('refuses ids that are not uuids, and an empty list, as invalid input', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-malformed', 1);
    const before = await written();
    await expect(
      platform.app.services.rollouts.plan(crew.planner, input(fleet, [ids(fleet, 0)[0]!, 'web-01']), false),
    ).rejects.toMatchObject({ code: 'invalid_input', message: 'not instance ids: "web-01"' });
    await expect(platform.app.services.rollouts.plan(crew.planner, input(fleet, []), false)).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('instance_ids is empty'),
    });
    expect(await written()).toEqual(before);
  });

  it('previews only the named instances in a dry run, writing nothing', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-dry', 5);
    const named = ids(fleet, 0, 2, 4);
    const before = await written();
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, [...named, named[0]!]), true);
    expect(plan).toMatchObject({ dryRun: true, rolloutId: null, totalInstances: 3, batchCount: 2, batchSize: 2 });
    expect(plan.batches.flatMap((b) => b.instanceIds).sort()).toEqual([...named].sort());
    expect(await written()).toEqual(before);
  });

  it('on completion leaves the baseline and every other instance alone; the targets keep the target as override', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-done', 4);
    const [a, b, c, d] = ids(fleet, 0, 1, 2, 3) as [string, string, string, string];
    const pinned = await pin(fleet, [a, d]);
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, [a, b]), false);
    expect(plan).toMatchObject({ state: 'pending_approval', totalInstances: 2 });
    await platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' });
    expect(await runWhile(fleet, plan.rolloutId!, 'running')).toBe('completed');

    expect(await baseline(fleet)).toBe(fleet.old.id);
    expect(await overrides(fleet)).toEqual(
      new Map([
        [a, fleet.target.id],
        [b, fleet.target.id],
        [d, pinned.id],
      ]),
    );
    expect((await effectiveVersions(platform, [c], fleet.module)).get(c)).toBe(fleet.old.id);
  });

  it('on rollback gives each target its previous override back, or the group again', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-back', 4);
    const [a, b, , d] = ids(fleet, 0, 1, 2, 3) as [string, string, string, string];
    const pinned = await pin(fleet, [a, d]);
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, [a, b], 100), false);
    await platform.app.services.approvals.decide(crew.alice, { id: plan.approvalRequestId!, decision: 'approve' });
    await tick(platform);
    expect((await overrides(fleet)).get(b)).toBe(fleet.target.id);
    await platform.app.services.rollouts.control(crew.planner, plan.rolloutId!, 'rollback');
    expect(await runWhile(fleet, plan.rolloutId!, 'rolling_back')).toBe('rolled_back');

    expect(await overrides(fleet)).toEqual(
      new Map([
        [a, pinned.id],
        [d, pinned.id],
      ]),
    );
    expect(await baseline(fleet)).toBe(fleet.old.id);
    const running = await effectiveVersions(platform, [a, b], fleet.module);
    expect([running.get(a), running.get(b)]).toEqual([pinned.id, fleet.old.id]);
  });

  it('keeps the scope when an approver edits the plan', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-edit', 6);
    const named = ids(fleet, 1, 3, 5);
    const plan = await platform.app.services.rollouts.plan(crew.planner, input(fleet, named), false);
    const edited = await platform.app.services.approvals.decide(crew.alice, {
      id: plan.approvalRequestId!,
      decision: 'approve',
      edits: { batch_pct: 100 },
    });
    expect(edited.newApprovalRequestId).not.toBeNull();
    const view = await platform.app.services.rollouts.get(plan.rolloutId!);
    expect(view.rollout).toMatchObject({ state: 'pending_approval', totalInstances: 3, batchCount: 1 });
    expect([...view.batches[0]!.instanceIds].sort()).toEqual([...named].sort());
  });

  it('shows scope instances or group in get_rollout and list_rollouts', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'sc-view', 2);
    const scoped = await platform.app.services.rollouts.plan(crew.planner, input(fleet, ids(fleet, 0)), false);
    await platform.app.services.rollouts.control(crew.planner, scoped.rolloutId!, 'abort');
    const group = await platform.app.services.rollouts.plan(
      crew.planner,
      { ...input(fleet, []), instanceIds: undefined },
      false,
    );
    const client = await platform.memoryClient();
    const get = await call(client, 'get_rollout', { rollout_id: scoped.rolloutId! });
    expect(get.data.rollout).toMatchObject({ scope: 'instances', progress: { total_instances: 1 } });
    const list = await call(client, 'list_rollouts', { group: fleet.group });
    const scopes = (list.data.rollouts as Array<{ id: string; scope: string }>).map((r): [string, string] => [
      r.id,
      r.scope,
    ]);
    expect(new Map(scopes)).toEqual(
      new Map([
        [scoped.rolloutId!, 'instances'],
        [group.rolloutId!, 'group'],
      ]),
    );
  });
});
