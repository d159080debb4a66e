// The skill and policy tools through a real SDK client: list_skills, execute_skill (dry run, the
// tutorial's 50-instance plan, refusals that write nothing), intervention policies and agent_introspect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLING_UPGRADE_SKILL } from '../../src/domain/skills.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  digestOf,
  enrollGroup,
  executeUpgrade,
  makeCrew,
  planUpgrade,
  publishVersion,
  writtenRows,
  type Crew,
} from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('skill tools on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let edge: { groupId: string; instanceIds: string[] };
  const v: Record<string, string> = {};
  let nginxId: string;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    ({ moduleId: nginxId, versionId: v.old } = await publishVersion(crew.admin, 'nginx', '1.24.0', digestOf('a')));
    v.target = (await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'))).versionId;
    v.draft = (await publishVersion(crew.admin, 'nginx', '1.27.0-rc1', digestOf('c'), true)).versionId;
    v.archived = (await publishVersion(crew.admin, 'nginx', '1.22.0', digestOf('d'))).versionId;
    await call(crew.admin, 'promote_module_version', {
      module_name: 'nginx',
      version_id: '1.22.0',
      lifecycle_state: 'archived',
    });
    edge = await enrollGroup(platform, 'edge', 50);
    await enrollGroup(platform, 'busy', 3);
    await platform.app.services.fleet.createEnrollmentToken(
      await platform.app.services.operators.callerByName('admin'),
      { group: { groupName: 'empty' }, ttlSec: 60, region: null, labels: {} },
    );
  });
  afterAll(() => platform.close());

  const tutorialInputs = (): Record<string, unknown> => ({
    template_id: edge.groupId,
    module_id: nginxId,
    target_version_id: v.target,
    batch_pct: 20,
    max_consecutive_failures: 2,
    health_timeout_sec: 300,
  });

  it('list_skills describes the rolling upgrade skill with a strict input schema', async () => {
    const res = await call(crew.vera, 'list_skills', {});
    const skills = res.data.skills as Array<{
      name: string;
      description: string;
      input_schema: Record<string, unknown>;
    }>;
    expect(skills.map((s) => s.name)).toEqual([ROLLING_UPGRADE_SKILL]);
    expect(skills[0]!.input_schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { target_version_id: expect.any(Object), batch_pct: expect.any(Object) },
    });
    expect(res.data.next_cursor).toBeNull();
  });

  it('a dry run shows the batches and writes nothing, not even an event', async () => {
    const eventsBefore = await call(crew.vera, 'recent_events', { limit: 500 });
    const rolloutsBefore = await call(crew.vera, 'list_rollouts', {});
    const rowsBefore = await writtenRows(platform);

    const res = await executeUpgrade(crew.otto, tutorialInputs(), true);
    expect(res.error).toBeUndefined();
    expect(res.data).toMatchObject({
      rollout_id: null,
      dry_run: true,
      state: null,
      total_instances: 50,
      batch_count: 5,
      approval_request_id: null,
      plan_resource: null,
    });
    const batches = res.data.batches as Array<{ instance_ids: string[]; instance_count: number }>;
    expect(batches.map((b) => b.instance_ids.length)).toEqual([10, 10, 10, 10, 10]);

    expect(await call(crew.vera, 'recent_events', { limit: 500 })).toEqual(eventsBefore);
    expect(await call(crew.vera, 'list_rollouts', {})).toEqual(rolloutsBefore);
    expect(await writtenRows(platform)).toEqual(rowsBefore);
  });

  it('plans 50 instances at 20% as 5 batches of 10 with the tutorial fields and an approval request', async () => {
    const plan = await planUpgrade(crew.otto, tutorialInputs());
    expect(plan).toMatchObject({
      rollout_id: expect.any(String),
      dry_run: false,
      state: 'pending_approval',
      total_instances: 50,
      batch_size: 10,
      batch_count: 5,
      estimated_total_seconds: 1500,
      circuit_breaker: { max_consecutive_failures: 2, max_failure_pct: null, min_sample: null },
      strategy: { type: 'batch', batch_pct: 20 },
      health_timeout_sec: 300,
      approval_request_id: expect.any(String),
      policy: { mode: 'require_approval', four_eyes: true },
      related_learnings: [],
    });
    expect(plan.plan_resource).toBe(`flotilla://rollouts/${String(plan.rollout_id)}`);
    const batches = plan.batches as Array<{
      index: number;
      instance_ids: string[];
      instance_count: number;
      phase: string;
    }>;
    expect(batches.map((b) => [b.index, b.instance_count, b.phase, b.instance_ids.length])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [i, 10, 'pending', 10]),
    );
    expect(new Set(batches.flatMap((b) => b.instance_ids))).toEqual(new Set(edge.instanceIds));

    const approval = await call(crew.vera, 'get_approval', { approval_request_id: plan.approval_request_id });
    expect(approval.data.approval).toMatchObject({
      kind: 'rollout_plan',
      subject_id: plan.rollout_id,
      status: 'pending',
      requested_by: 'otto',
      four_eyes: true,
      summary: { total_instances: 50, batch_count: 5, module_name: 'nginx', target_version: '1.26.0' },
    });
    const events = await call(crew.vera, 'recent_events', { kind_prefix: 'module.upgrade.planned' });
    expect(events.data.events).toMatchObject([{ payload: { rollout_id: plan.rollout_id, total_instances: 50 } }]);
  });

  describe('refusals write nothing', () => {
    let busyPlanned = false;
    const cases: Array<[string, () => Record<string, unknown>, string, RegExp]> = [
      ['an unknown group', () => ({ ...tutorialInputs(), template_id: 'no-such-group' }), 'not_found', /no-such-group/],
      [
        'an unknown module',
        () => ({ ...tutorialInputs(), module_id: 'no-such-module' }),
        'not_found',
        /no-such-module/,
      ],
      ['an unknown version', () => ({ ...tutorialInputs(), target_version_id: '9.9.9' }), 'not_found', /9\.9\.9/],
      ['a draft target', () => ({ ...tutorialInputs(), target_version_id: v.draft }), 'conflict', /draft/],
      ['an archived target', () => ({ ...tutorialInputs(), target_version_id: v.archived }), 'conflict', /archived/],
      ['an empty group', () => ({ ...tutorialInputs(), template_id: 'empty' }), 'conflict', /no live instances/],
      ['an active rollout', () => ({ ...tutorialInputs(), template_id: 'busy' }), 'conflict', /another rollout/],
      [
        'an unknown input key',
        () => ({ ...tutorialInputs(), batch_size: 10 }),
        'invalid_input',
        /unknown input "inputs\.batch_size"/,
      ],
      ['batch_pct 0', () => ({ ...tutorialInputs(), batch_pct: 0 }), 'invalid_input', /inputs\.batch_pct/],
    ];

    it.each(cases)('refuses %s', async (_what, inputs, code, message) => {
      if (!busyPlanned) {
        await planUpgrade(crew.otto, { ...tutorialInputs(), template_id: 'busy' });
        busyPlanned = true;
      }
      const before = await writtenRows(platform);
      const res = await executeUpgrade(crew.otto, inputs());
      expect(res.error?.code).toBe(code);
      expect(res.error?.message).toMatch(message);
      expect(await writtenRows(platform)).toEqual(before);
    });

    it('refuses execute_skill to a viewer, naming the operator role', async () => {
      const before = await writtenRows(platform);
      const res = await executeUpgrade(crew.vera, tutorialInputs(), true);
      expect(res.error?.code).toBe('forbidden');
      expect(res.error?.message).toContain('execute_skill needs the operator role');
      expect(await writtenRows(platform)).toEqual(before);
    });

    it('refuses an unknown skill, naming the known one', async () => {
      const res = await call(crew.otto, 'execute_skill', { skill: 'rolling-upgrade', inputs: {} });
      expect(res.error?.code).toBe('not_found');
      expect(res.error?.hint).toContain(ROLLING_UPGRADE_SKILL);
    });
  });

  describe('intervention policies', () => {
    it('lists the rolling upgrade policy, and agent_introspect shows it with the skills and the reconciler', async () => {
      const listed = await call(crew.vera, 'list_intervention_policies', {});
      expect(listed.data.policies).toMatchObject([
        { action: 'system.fleet_rolling_upgrade', mode: 'require_approval', four_eyes: true },
      ]);
      await platform.app.reconciler.tickOnce();
      const agent = await call(crew.vera, 'agent_introspect', { agent_id: 'fleet_autonomy_agent' });
      expect(agent.data).toEqual({
        agent_id: 'fleet_autonomy_agent',
        intervention_policies: listed.data.policies,
        skills: [ROLLING_UPGRADE_SKILL],
        reconciler: { tick_ms: 5000, last_tick_at: platform.clock.now().toISOString() },
      });
    });

    it('agent_introspect refuses an unknown agent, naming the known one', async () => {
      const res = await call(crew.vera, 'agent_introspect', { agent_id: 'autonomy' });
      expect(res.error?.code).toBe('not_found');
      expect(res.error?.hint).toContain('fleet_autonomy_agent');
    });

    it('refuses set_intervention_policy to an approver, naming the admin role', async () => {
      const res = await call(crew.alice, 'set_intervention_policy', {
        action: 'system.fleet_rolling_upgrade',
        mode: 'auto',
        four_eyes: false,
      });
      expect(res.error?.code).toBe('forbidden');
      expect(res.error?.message).toContain('needs the admin role');
    });

    it('refuses an unknown policy action by name', async () => {
      const res = await call(crew.admin, 'set_intervention_policy', {
        action: 'system.fleet_rolling_upgrad',
        mode: 'auto',
        four_eyes: false,
      });
      expect(res.error?.code).toBe('invalid_input');
      expect(res.error?.message).toContain('action');
    });

    it('blocked makes execute_skill refuse with forbidden and write nothing; auto starts without approval', async () => {
      const set = await call(crew.admin, 'set_intervention_policy', {
        action: 'system.fleet_rolling_upgrade',
        mode: 'blocked',
        four_eyes: true,
      });
      expect(set.data.policy).toMatchObject({ mode: 'blocked', four_eyes: true, updated_by: 'admin' });
      const group = await enrollGroup(platform, 'policy-fleet', 4);
      const before = await writtenRows(platform);
      const refused = await executeUpgrade(crew.otto, { ...tutorialInputs(), template_id: group.groupId });
      expect(refused.error?.code).toBe('forbidden');
      expect(refused.error?.message).toContain('blocked');
      expect(await writtenRows(platform)).toEqual(before);

      await call(crew.admin, 'set_intervention_policy', {
        action: 'system.fleet_rolling_upgrade',
        mode: 'auto',
        four_eyes: false,
      });
      const auto = await planUpgrade(crew.otto, { ...tutorialInputs(), template_id: group.groupId });
      expect(auto).toMatchObject({ state: 'running', approval_request_id: null, policy: { mode: 'auto' } });

      await call(crew.admin, 'set_intervention_policy', {
        action: 'system.fleet_rolling_upgrade',
        mode: 'require_approval',
        four_eyes: true,
      });
    });
  });
});
