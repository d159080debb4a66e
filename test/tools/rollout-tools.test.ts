// The rollout tools through a real SDK client: list_rollouts filters, get_rollout with its batches and
// paged per-instance targets, the operator controls, and watch_rollout (immediate answers, progress).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  digestOf,
  enrollGroup,
  makeCrew,
  planUpgrade,
  publishVersion,
  writtenRows,
  type Crew,
} from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

interface Target {
  instance_id: string;
  name: string;
  batch_index: number;
  state: string;
}

describe.each(STORE_KINDS)('rollout tools on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let twelve: { groupId: string; instanceIds: string[] };
  let plan: Record<string, unknown>;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    await publishVersion(crew.admin, 'nginx', '1.24.0', digestOf('a'));
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
    await publishVersion(crew.admin, 'redis', '7.2.0', digestOf('c'));
    twelve = await enrollGroup(platform, 'twelve', 12);
    plan = await planUpgrade(crew.otto, {
      group: 'twelve',
      module_name: 'nginx',
      target_version_id: '1.26.0',
      batch_pct: 25,
    });
  });
  afterAll(() => platform.close());

  /** A rollout of `module` in a new group of `count` instances, approved by bob so it runs. */
  async function runningRollout(group: string, count = 2, module = 'nginx'): Promise<string> {
    await enrollGroup(platform, group, count);
    const p = await planUpgrade(crew.otto, {
      group,
      module_name: module,
      target_version_id: module === 'nginx' ? '1.26.0' : '7.2.0',
    });
    await call(crew.bob, 'decide_approval', { approval_request_id: p.approval_request_id, decision: 'approve' });
    return p.rollout_id as string;
  }

  const control = (client: Client, tool: string, id: string, reason?: string): ReturnType<typeof call> =>
    call(client, tool, { rollout_id: id, ...(reason === undefined ? {} : { reason }) });

  it('get_rollout shows state, progress, breaker, batches and a first page of targets', async () => {
    const res = await call(crew.vera, 'get_rollout', { rollout_id: plan.rollout_id, limit: 5 });
    expect(res.data.rollout).toMatchObject({
      id: plan.rollout_id,
      state: 'pending_approval',
      group: { id: twelve.groupId, name: 'twelve' },
      module: { name: 'nginx' },
      target_version: { version: '1.26.0', digest: digestOf('b') },
      strategy: { type: 'batch', batch_pct: 25 },
      circuit_breaker: { max_consecutive_failures: 2, max_failure_pct: null, min_sample: null },
      progress: {
        total_instances: 12,
        batch_count: 4,
        current_batch: -1,
        healthy_total: 0,
        failed_total: 0,
        consecutive_failures: 0,
      },
      approval_request_id: plan.approval_request_id,
      federation_rollout_ref: null,
      requested_by: 'otto',
      started_at: null,
    });
    const batches = (res.data.rollout as { batches: Array<Record<string, unknown>> }).batches;
    expect(batches).toHaveLength(4);
    expect(batches[0]).toMatchObject({ index: 0, phase: 'pending', instance_count: 3, healthy_count: 0 });
    expect(res.data.instances).toHaveLength(5);
    expect(res.data.next_cursor).toEqual(expect.any(String));
  });

  it('get_rollout pages through every target in upgrade order, and filters by batch_index', async () => {
    const seen: Target[] = [];
    let cursor: unknown = undefined;
    do {
      const res = await call(crew.vera, 'get_rollout', {
        rollout_id: plan.rollout_id,
        limit: 5,
        ...(cursor === undefined ? {} : { cursor }),
      });
      seen.push(...(res.data.instances as Target[]));
      cursor = res.data.next_cursor ?? undefined;
    } while (cursor !== undefined);
    expect(seen.map((t) => t.instance_id).sort()).toEqual([...twelve.instanceIds].sort());
    expect(seen.map((t) => t.batch_index)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    expect(seen.every((t) => t.state === 'pending' && t.name.startsWith('twelve-'))).toBe(true);

    const batch1 = await call(crew.vera, 'get_rollout', { rollout_id: plan.rollout_id, batch_index: 1 });
    expect((batch1.data.instances as Target[]).map((t) => t.instance_id)).toEqual(
      seen.filter((t) => t.batch_index === 1).map((t) => t.instance_id),
    );
    expect(batch1.data.next_cursor).toBeNull();
  });

  it('get_rollout refuses an unknown rollout with not_found', async () => {
    const res = await call(crew.vera, 'get_rollout', { rollout_id: 'nope' });
    expect(res.error?.code).toBe('not_found');
  });

  it('list_rollouts filters by state, group and module', async () => {
    const redisRollout = await runningRollout('list-redis', 2, 'redis');
    const ids = async (args: Record<string, unknown>): Promise<string[]> =>
      ((await call(crew.vera, 'list_rollouts', args)).data.rollouts as Array<{ id: string }>).map((r) => r.id);
    expect(await ids({ state: 'pending_approval', group: 'twelve' })).toEqual([plan.rollout_id]);
    expect(await ids({ template_id: twelve.groupId })).toEqual([plan.rollout_id]);
    expect(await ids({ module_name: 'redis' })).toEqual([redisRollout]);
    expect(await ids({ state: 'running', module_name: 'redis' })).toEqual([redisRollout]);
    expect(await ids({ state: 'completed' })).toEqual([]);
    const unknown = await call(crew.vera, 'list_rollouts', { group: 'no-such-group' });
    expect(unknown.error?.code).toBe('not_found');
    const both = await call(crew.vera, 'list_rollouts', { group: 'twelve', template_id: twelve.groupId });
    expect(both.error?.code).toBe('invalid_input');
  });

  it('pause_rollout and resume_rollout move a running rollout, with the reason in the event', async () => {
    const id = await runningRollout('pausable');
    const paused = await control(crew.otto, 'pause_rollout', id, 'investigating a page');
    expect(paused.data.rollout).toMatchObject({ id, state: 'paused' });
    const events = await call(crew.vera, 'recent_events', { kind_prefix: 'module.upgrade.paused' });
    expect(events.data.events).toMatchObject([
      { actor: 'otto', payload: { rollout_id: id, reason: 'investigating a page' } },
    ]);
    const again = await control(crew.otto, 'pause_rollout', id);
    expect(again.error?.code).toBe('illegal_transition');
    const resumed = await control(crew.otto, 'resume_rollout', id);
    expect(resumed.data.rollout).toMatchObject({ id, state: 'running' });
  });

  it('refuses the controls to a viewer, naming the operator role, and changes nothing', async () => {
    const id = await runningRollout('viewer-proof');
    const before = await writtenRows(platform);
    for (const tool of ['pause_rollout', 'resume_rollout', 'abort_rollout', 'rollback_rollout']) {
      const res = await control(crew.vera, tool, id);
      expect(res.error?.code, tool).toBe('forbidden');
      expect(res.error?.message, tool).toContain('needs the operator role');
    }
    expect(await writtenRows(platform)).toEqual(before);
  });

  it('abort_rollout stops a pending plan for good and supersedes its approval request', async () => {
    await enrollGroup(platform, 'abortable', 2);
    const p = await planUpgrade(crew.otto, { group: 'abortable', module_name: 'nginx', target_version_id: '1.26.0' });
    const aborted = await control(crew.otto, 'abort_rollout', p.rollout_id as string, 'wrong window');
    expect(aborted.data.rollout).toMatchObject({ state: 'aborted', reason: 'wrong window' });
    expect((aborted.data.rollout as { finished_at: string | null }).finished_at).not.toBeNull();
    const approval = await call(crew.vera, 'get_approval', { approval_request_id: p.approval_request_id });
    expect(approval.data.approval).toMatchObject({ status: 'superseded' });
    const resumed = await control(crew.otto, 'resume_rollout', p.rollout_id as string);
    expect(resumed.error?.code).toBe('illegal_transition');
  });

  it('rollback_rollout starts rolling back a running rollout', async () => {
    const id = await runningRollout('roll-me-back');
    const res = await control(crew.otto, 'rollback_rollout', id, 'bad canary');
    expect(res.data.rollout).toMatchObject({ id, state: 'rolling_back' });
    expect((res.data.rollout as { reason: string }).reason).toContain('bad canary');
  });

  describe('watch_rollout', () => {
    it('returns at once when the rollout is already in a default until state', async () => {
      const res = await call(crew.vera, 'watch_rollout', { rollout_id: plan.rollout_id });
      expect(res.data).toMatchObject({ reached: true, waited_sec: 0, rollout: { state: 'pending_approval' } });
    });

    it('returns at once when given the current state as until', async () => {
      const res = await call(crew.vera, 'watch_rollout', { rollout_id: plan.rollout_id, until: ['pending_approval'] });
      expect(res.data).toMatchObject({ reached: true, waited_sec: 0 });
    });

    it('answers reached false after timeout_sec 0 when the state is not reached', async () => {
      const res = await call(crew.vera, 'watch_rollout', {
        rollout_id: plan.rollout_id,
        until: 'completed',
        timeout_sec: 0,
      });
      expect(res.data).toMatchObject({ reached: false, rollout: { state: 'pending_approval' } });
    });

    it('sends a progress notification to a caller that asked for progress', async () => {
      const messages: string[] = [];
      const result = await crew.vera.callTool(
        { name: 'watch_rollout', arguments: { rollout_id: plan.rollout_id } },
        undefined,
        { onprogress: (p) => void messages.push(`${p.progress}/${String(p.total)} ${p.message ?? ''}`) },
      );
      expect(result.isError).not.toBe(true);
      expect(messages).toEqual(['0/4 pending_approval: 0/4 batches completed']);
    });

    it('refuses timeout_sec above 55 by name', async () => {
      const res = await call(crew.vera, 'watch_rollout', { rollout_id: plan.rollout_id, timeout_sec: 120 });
      expect(res.error?.code).toBe('invalid_input');
      expect(res.error?.message).toContain('timeout_sec');
    });
  });
});
