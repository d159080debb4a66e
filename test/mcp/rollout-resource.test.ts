// The flotilla://rollouts/{rollout_id} resource: the full plan of a rollout, every target included
// however many pages of targets that takes, as the plan_resource execute_skill returns points to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { digestOf, enrollGroup, makeCrew, planUpgrade, publishVersion, type Crew } from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('rollout plan resource on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  it('lists the flotilla://rollouts/{rollout_id} template', async () => {
    const { resourceTemplates } = await crew.vera.listResourceTemplates();
    expect(resourceTemplates).toContainEqual(
      expect.objectContaining({ uriTemplate: 'flotilla://rollouts/{rollout_id}', mimeType: 'application/json' }),
    );
  });

  it('reads the rollout, its batches and all of its targets past one page of 500', async () => {
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
    const { instanceIds } = await enrollGroup(platform, 'big', 501);
    const plan = await planUpgrade(crew.otto, { group: 'big', module_name: 'nginx', target_version_id: '1.26.0' });
    const uri = plan.plan_resource as string;
    const { contents } = await crew.vera.readResource({ uri });
    expect(contents[0]).toMatchObject({ uri, mimeType: 'application/json' });
    const body = JSON.parse((contents[0] as { text: string }).text) as {
      rollout: { id: string; state: string; totalInstances: number };
      batches: unknown[];
      targets: Array<{ instanceId: string; batchIndex: number; state: string }>;
    };
    expect(body.rollout).toMatchObject({ id: plan.rollout_id, state: 'pending_approval', totalInstances: 501 });
    expect(body.batches).toHaveLength(5);
    expect(body.targets).toHaveLength(501);
    expect(new Set(body.targets.map((t) => t.instanceId))).toEqual(new Set(instanceIds));
  });

  it('refuses an unknown rollout with not_found', async () => {
    await expect(crew.vera.readResource({ uri: 'flotilla://rollouts/nope' })).rejects.toThrow(/not_found/);
  });
});
