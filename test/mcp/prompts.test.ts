// The approval prompts through a real SDK client: prompts/list, prompts/get rendering a plan or a
// circuit-breaker trip with its options and the decide_approval call, and completion/complete offering
// pending approval ids by prefix.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  digestOf,
  enrollGroup,
  makeCrew,
  planUpgrade,
  publishVersion,
  tripBreaker,
  type Crew,
} from '../helpers/rollout-tools.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('approval prompts on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let plan: Record<string, unknown>;
  let tripped: Record<string, unknown>;
  let continuationId: string;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    await publishVersion(crew.admin, 'nginx', '1.24.0', digestOf('a'));
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
    await enrollGroup(platform, 'edge', 10);
    await enrollGroup(platform, 'canary', 4);
    plan = await planUpgrade(crew.otto, { group: 'edge', module_name: 'nginx', target_version_id: '1.26.0' });
    tripped = await planUpgrade(crew.otto, {
      group: 'canary',
      module_name: 'nginx',
      target_version_id: '1.26.0',
      batch_pct: 50,
      health_timeout_sec: 60,
    });
    continuationId = await tripBreaker(platform, crew.bob, tripped, 60);
  });
  afterAll(() => platform.close());

  const promptText = async (client: Client, name: string, id: string): Promise<string> => {
    const res = await client.getPrompt({ name, arguments: { approval_request_id: id } });
    expect(res.messages).toHaveLength(1);
    expect(res.messages[0]!.role).toBe('user');
    return (res.messages[0]!.content as { type: 'text'; text: string }).text;
  };

  const complete = async (prompt: string, value: string): Promise<string[]> =>
    (
      await crew.vera.complete({
        ref: { type: 'ref/prompt', name: prompt },
        argument: { name: 'approval_request_id', value },
      })
    ).completion.values;

  it('declares prompts and completions', () => {
    expect(crew.vera.getServerCapabilities()).toMatchObject({ prompts: {}, completions: {} });
  });

  it('lists review_approval and circuit_breaker_decision, each taking approval_request_id', async () => {
    const { prompts } = await crew.vera.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['review_approval', 'circuit_breaker_decision']);
    for (const p of prompts) {
      expect(p.arguments).toEqual([expect.objectContaining({ name: 'approval_request_id', required: true })]);
      expect(p.description).toEqual(expect.any(String));
    }
  });

  it('review_approval renders the plan, what each option does, and the decide_approval call', async () => {
    const text = await promptText(crew.vera, 'review_approval', plan.approval_request_id as string);
    for (const expected of [
      String(plan.approval_request_id),
      'upgrade nginx in group edge to version 1.26.0',
      '10 instance(s) in 5 batch(es): batches of 20% of the group',
      'trips after 2 consecutive failed instance(s)',
      '- batch 0: 2 instance(s), pending',
      `flotilla://rollouts/${String(plan.rollout_id)}`,
      '- approve — decide_approval(',
      '- reject — ',
      '- edit — ',
      'edits: { batch_pct',
      'four-eyes applies: otto requested it and may not decide it',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('circuit_breaker_decision renders the trip: batch, failed instances, reason and the three options', async () => {
    const approval = await call(crew.vera, 'get_approval', { approval_request_id: continuationId });
    const failed = (approval.data.approval as { summary: { failed_instance_ids: string[] } }).summary
      .failed_instance_ids;
    const text = await promptText(crew.vera, 'circuit_breaker_decision', continuationId);
    for (const expected of [
      `The circuit breaker tripped on rollout ${String(tripped.rollout_id)}`,
      '- Batch: 0',
      `- Failed instances: ${failed.join(', ')}`,
      '- Reason: max_consecutive_failures (2) exceeded',
      '0 healthy and 2 failed of 4 instance(s)',
      '- continue_anyway — decide_approval(',
      `option: "rollback_completed_batches"`,
      '- abort — ',
      `approval_request_id "${continuationId}"`,
    ]) {
      expect(text).toContain(expected);
    }
    expect(await promptText(crew.vera, 'review_approval', continuationId)).toBe(text);
  });

  it('circuit_breaker_decision refuses a plan request, pointing to review_approval', async () => {
    await expect(
      crew.vera.getPrompt({
        name: 'circuit_breaker_decision',
        arguments: { approval_request_id: plan.approval_request_id as string },
      }),
    ).rejects.toThrow(/review_approval/);
  });

  it('refuses an unknown prompt, a missing argument and an unknown request', async () => {
    await expect(crew.vera.getPrompt({ name: 'approve_everything', arguments: {} })).rejects.toThrow(/not_found/);
    await expect(crew.vera.getPrompt({ name: 'review_approval', arguments: {} })).rejects.toThrow(
      /approval_request_id is required/,
    );
    await expect(
      crew.vera.getPrompt({
        name: 'review_approval',
        arguments: { approval_request_id: '00000000-0000-4000-8000-000000000000' },
      }),
    ).rejects.toThrow(/not_found/);
  });

  it('completes pending approval ids by prefix, and only continuations for circuit_breaker_decision', async () => {
    const planId = plan.approval_request_id as string;
    expect(await complete('review_approval', planId.slice(0, 6))).toEqual([planId]);
    expect((await complete('review_approval', '')).sort()).toEqual([planId, continuationId].sort());
    expect(await complete('review_approval', 'zzzz')).toEqual([]);
    expect(await complete('circuit_breaker_decision', '')).toEqual([continuationId]);
  });

  it('no longer offers or invites deciding a request once it is decided', async () => {
    const decided = await call(crew.bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'reject',
    });
    expect(decided.isError).toBe(false);
    expect(await complete('review_approval', '')).toEqual([continuationId]);
    const text = await promptText(crew.vera, 'review_approval', plan.approval_request_id as string);
    expect(text).toContain('This request is rejected (decided by bob); it can no longer be decided here.');
  });
});
