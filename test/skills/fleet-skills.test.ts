// The single-platform skills run step by step as an assistant would, through real SDK clients over HTTP:
// the user is an operator, a second operator (approver) makes the calls marked as approver, and between
// tries of a waiting step the fleet's agents heartbeat and the reconciler ticks. Upgrades on a healthy
// and a broken version (the breaker trips, the skill rolls back), each breaker decision, and a manifest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { FlotillaClient } from '../../src/mcp/client.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { FleetScenario, makeCrew, tick, type Crew } from '../helpers/rollouts.js';
import { parseSkill, readSkills, type SkillFile } from '../helpers/skill-files.js';
import { runSkill, type SkillRun } from '../helpers/skill-runner.js';
import { STORE_KINDS } from '../helpers/store.js';

const skill = (folder: string): SkillFile => {
  const found = readSkills().find((s) => s.folder === folder);
  if (found === undefined) throw new Error(`no skill ${folder}`);
  return found;
};

describe.each(STORE_KINDS)('fleet skills run on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let me: FlotillaClient;
  let approver: FlotillaClient;
  const fleets: FleetScenario[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    me = await platform.httpClient(await platform.operator('sam', 'operator'));
    approver = await platform.httpClient(await platform.operator('ada', 'approver'));
  }, 120_000); // a platform starting on a busy shared machine
  afterAll(() => platform.close());

  /** Agents heartbeat and the reconciler ticks until no rollout is running or rolling back (20 rounds at most). */
  async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const moving = await platform.store.db
        .selectFrom('rollouts')
        .select('id')
        .where('state', 'in', ['running', 'rolling_back'])
        .execute();
      if (moving.length === 0) return;
      for (const f of fleets) await f.beat();
      await tick(platform);
    }
  }

  async function fleet(name: string, count: number): Promise<FleetScenario> {
    const f = await FleetScenario.create(platform, crew, name, count);
    fleets.push(f);
    return f;
  }

  const run = (folder: string, inputs: Record<string, unknown>): Promise<SkillRun> =>
    runSkill(skill(folder), { clients: { me, approver }, inputs, wait: settle });

  const learningTitles = async (tag: string): Promise<string[]> => {
    const res = await me.callTool('search_learnings', { tags: [tag] });
    return (res.structured as { learnings: Array<{ title: string }> }).learnings.map((l) => l.title);
  };

  it('stops at a refused call or an unexpected result, naming the step', async () => {
    const probe = (block: string): SkillFile =>
      parseSkill('probe', `---\nname: probe\ndescription: A probe.\n---\n\n\`\`\`json\n${block}\n\`\`\`\n`);
    const refused = probe('{ "tool": "get_rollout", "arguments": { "rollout_id": "no-such-rollout" } }');
    await expect(runSkill(refused, { clients: { me }, inputs: {} })).rejects.toThrow(
      /probe step 1 \(get_rollout\) was refused: not_found/,
    );
    const unexpected = probe('{ "tool": "get_platform_info", "arguments": {}, "expect": { "caller.role": "admin" } }');
    await expect(runSkill(unexpected, { clients: { me }, inputs: {} })).rejects.toThrow(
      'probe step 1 (get_platform_info): caller.role is "operator", expected "admin"',
    );
  });

  it('upgrade-module-safely: a healthy version, approved by a second operator, completes', async () => {
    const f = await fleet('up', 5);
    const done = await run('upgrade-module-safely', {
      group: f.group,
      module_name: f.module,
      target_version: '1.26.0',
      breaker_decision: 'abort',
    });
    expect(done.vars).toMatchObject({ plan_state: 'pending_approval', rollout_state: 'completed', me: 'sam' });
    expect(done.steps.filter((s) => s.skipped).map((s) => s.tool)).toEqual([
      'get_rollout',
      'decide_approval',
      'watch_rollout',
    ]);
    const approval = await platform.app.services.approvals.get(String(done.vars.approval_request_id));
    expect(approval).toMatchObject({ requestedBy: 'sam', decidedBy: 'ada', status: 'approved' });
    expect(f.agents.every((a) => a.running[f.module] === f.target.digest)).toBe(true);
    expect(await learningTitles(f.module)).toEqual([`${f.module} → 1.26.0 rolling upgrade on ${f.group}: completed`]);
  });

  it('upgrade-module-safely: a broken version trips the breaker and the decision rolls it back', async () => {
    const f = await fleet('upb', 5);
    const done = await run('upgrade-module-safely', {
      group: f.group,
      module_name: f.module,
      target_version: '1.26.0-broken',
      breaker_decision: 'rollback_completed_batches',
    });
    expect(done.vars).toMatchObject({ rollout_state: 'rolled_back' });
    expect(done.steps.every((s) => !s.skipped)).toBe(true);
    const r = (await platform.app.services.rollouts.get(String(done.vars.rollout_id))).rollout;
    expect(r).toMatchObject({ state: 'rolled_back', breakerTrips: 1 });
    expect(f.agents.every((a) => a.running[f.module] === f.old.digest)).toBe(true);
  });

  /** A rollout of a broken version whose first batch fails (only it when `onlyFirst`), left circuit_open. */
  async function tripped(name: string, onlyFirst: boolean): Promise<{ f: FleetScenario; id: string }> {
    const f = await fleet(name, 6);
    const plan = await f.planApproved({ target_version_id: f.broken.id, batch_pct: 34 });
    const first = new Set(plan.batches[0]!.instanceIds);
    f.failing = onlyFirst ? (id) => first.has(id) : null;
    await settle();
    expect((await platform.app.services.rollouts.get(plan.rolloutId!)).rollout.state).toBe('circuit_open');
    return { f, id: plan.rolloutId! };
  }

  it.each([
    ['continue_anyway', 'completed', true],
    ['rollback_completed_batches', 'rolled_back', false],
    ['abort', 'aborted', false],
  ] as const)('handle-circuit-breaker: %s ends the rollout %s', async (decision, final, onlyFirst) => {
    const { f, id } = await tripped(`brk-${decision.slice(0, 5)}`, onlyFirst);
    const done = await run('handle-circuit-breaker', { decision });
    expect(done.vars).toMatchObject({ rollout_id: id, final_state: final, tripped_batch: 0, module_name: f.module });
    const approval = await platform.app.services.approvals.get(String(done.vars.approval_request_id));
    expect(approval).toMatchObject({ decidedBy: 'ada', chosenOption: decision });
    expect(await learningTitles(f.module)).toEqual([
      `${f.module} → 1.26.0-broken: breaker tripped at batch 0, ${decision}`,
    ]);
  });

  it('apply-fleet-manifest: diffs, applies, and then nothing differs or drifts', async () => {
    const f = await fleet('mf', 3);
    const manifest = [
      'apiVersion: flotilla/v1',
      'kind: Fleet',
      'modules:',
      `  - module_name: ${f.module}`,
      '    versions:',
      `      - { version: 1.24.0, digest: "${f.old.digest}", lifecycle_state: published }`,
      `      - { version: 1.26.0, digest: "${f.target.digest}", lifecycle_state: blessed }`,
      `      - { version: 1.27.0, digest: "sha256:${'7'.repeat(64)}", lifecycle_state: published }`,
      '',
    ].join('\n');
    const done = await run('apply-fleet-manifest', { manifest, group: f.group });
    expect(done.vars.planned).toMatch(/1 to create, 1 to update/);
    const versions = await sql<{ version: string; lifecycle_state: string }>`
      SELECT v.version, v.lifecycle_state FROM module_versions v JOIN modules m ON m.id = v.module_id
      WHERE m.name = ${f.module} ORDER BY v.version`.execute(platform.store.db);
    expect(versions.rows).toEqual([
      { version: '1.24.0', lifecycle_state: 'published' },
      { version: '1.26.0', lifecycle_state: 'blessed' },
      { version: '1.26.0-broken', lifecycle_state: 'published' },
      { version: '1.27.0', lifecycle_state: 'published' },
    ]);
  });
});
