// The learning tools through a real SDK client: create_learning records one (tags lower-cased, an
// event), search_learnings finds by text, tags and category with paging, and plans surface them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  digestOf,
  enrollGroup,
  executeUpgrade,
  makeCrew,
  publishVersion,
  type Crew,
} from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('learning tools on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let nginxLearning: string;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
  });
  afterAll(() => platform.close());

  const titles = async (args: Record<string, unknown>): Promise<string[]> =>
    ((await call(crew.vera, 'search_learnings', args)).data.learnings as Array<{ title: string }>).map((l) => l.title);

  it('create_learning records the tutorial learning with lower-cased tags and an event', async () => {
    const res = await call(crew.otto, 'create_learning', {
      title: 'nginx 1.24 → 1.26 rolling upgrade — batch_pct=20% works for edge fleet',
      category: 'best_practice',
      content: '50-instance edge fleet: 20% batches × 5 batches × ~5min health window = 25 min total.',
      tags: ['Rolling-Upgrade', 'nginx', 'batch-sizing'],
    });
    expect(res.data.learning).toMatchObject({
      category: 'best_practice',
      tags: ['rolling-upgrade', 'nginx', 'batch-sizing'],
      created_by: 'otto',
      created_at: platform.clock.now().toISOString(),
    });
    nginxLearning = (res.data.learning as { id: string }).id;
    const events = await call(crew.vera, 'recent_events', { kind_prefix: 'learning.created' });
    expect(events.data.events).toMatchObject([{ payload: { learning_id: nginxLearning } }]);
  });

  it('refuses create_learning to a viewer', async () => {
    const res = await call(crew.vera, 'create_learning', { title: 't', category: 'c', content: 'x', tags: [] });
    expect(res.error?.code).toBe('forbidden');
  });

  it('search_learnings finds by query, tags and category, newest first, in pages', async () => {
    platform.clock.advance(1000);
    await call(crew.otto, 'create_learning', {
      title: 'redis failover drill',
      category: 'incident',
      content: 'Sentinel took 30 s to elect.',
      tags: ['redis'],
    });
    expect(await titles({ query: 'EDGE FLEET' })).toHaveLength(1);
    expect(await titles({ tags: ['redis', 'nginx'] })).toEqual([
      'redis failover drill',
      'nginx 1.24 → 1.26 rolling upgrade — batch_pct=20% works for edge fleet',
    ]);
    expect(await titles({ category: 'incident' })).toEqual(['redis failover drill']);
    const page1 = await call(crew.vera, 'search_learnings', { limit: 1 });
    const page2 = await call(crew.vera, 'search_learnings', { limit: 1, cursor: page1.data.next_cursor });
    expect([...(page1.data.learnings as []), ...(page2.data.learnings as [])]).toHaveLength(2);
    expect(page2.data.next_cursor).toBeNull();
  });

  it('a plan of the module lists the learning in related_learnings', async () => {
    await publishVersion(crew.admin, 'nginx', '1.24.0', digestOf('a'));
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
    await enrollGroup(platform, 'edge', 3);
    const res = await executeUpgrade(
      crew.otto,
      { group: 'edge', module_name: 'nginx', target_version_id: '1.26.0' },
      true,
    );
    expect(res.data.related_learnings).toEqual([
      {
        id: nginxLearning,
        title: 'nginx 1.24 → 1.26 rolling upgrade — batch_pct=20% works for edge fleet',
        category: 'best_practice',
        tags: ['rolling-upgrade', 'nginx', 'batch-sizing'],
      },
    ]);
  });
});
