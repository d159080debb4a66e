import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { TEXT_MIRROR_MAX_CHARS } from '../../src/mcp/server.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { IDS_BUDGET } from '../../tools/shared/rollout-views.js';

// ~8k tokens is about 32,000 characters for structuredContent and its text mirror together.
const RESULT_CHARS = 32_000;

describe('results stay within the token budget', () => {
  let platform: TestPlatform;
  let admin: Client;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    admin = await platform.memoryClient();
    const s = platform.app.services;
    const caller = await s.operators.callerByName('admin');
    await s.modules.publish(caller, {
      moduleName: 'nginx',
      version: '1.26.0',
      digest: `sha256:${'b'.repeat(64)}`,
      draft: false,
    });
    const { token } = await s.fleet.createEnrollmentToken(caller, {
      group: { groupName: 'edge' },
      ttlSec: 3600,
      region: null,
      labels: {},
    });
    for (let i = 0; i < 300; i++) await s.fleet.enroll(token, { name: `edge-${i}` });
  });
  afterAll(() => platform.close());

  it('lists at most IDS_BUDGET instance ids over all batches of a plan of many batches', async () => {
    const result = await admin.callTool({
      name: 'execute_skill',
      arguments: {
        skill: 'system-rolling-module-upgrade',
        inputs: { group: 'edge', module_name: 'nginx', target_version_id: '1.26.0', batch_pct: 1 },
        dry_run: true,
      },
    });
    const plan = result.structuredContent as {
      batch_count: number;
      batches: Array<{ instance_ids: string[]; instance_count: number }>;
    };
    expect(plan.batch_count).toBe(100);
    const listed = plan.batches.reduce((n, b) => n + b.instance_ids.length, 0);
    expect(listed).toBe(IDS_BUDGET);
    expect(plan.batches.reduce((n, b) => n + b.instance_count, 0)).toBe(300);
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(JSON.stringify(result.structuredContent).length + text.length).toBeLessThan(RESULT_CHARS);
  });

  it('cuts a long text mirror short and says the whole result is in structuredContent', async () => {
    const result = await admin.callTool({ name: 'list_instances', arguments: { group: 'edge', limit: 500 } });
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text.length).toBeLessThan(TEXT_MIRROR_MAX_CHARS + 200);
    expect(text).toContain('the full result is in structuredContent');
    const listed = await call(admin, 'list_instances', { group: 'edge', limit: 500 });
    expect(JSON.stringify(listed.data).length).toBeLessThan(RESULT_CHARS);
  });
});
