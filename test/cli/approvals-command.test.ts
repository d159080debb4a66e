// `flotilla approvals` as a real child process against a real platform on loopback: list shows pending
// requests, approve decides one as the token's operator, and a refusal is one line with exit status 1.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { ChildSet, cliEnv, lines } from '../helpers/cli.js';
import { digestOf, enrollGroup, makeCrew, planUpgrade, publishVersion, type Crew } from '../helpers/rollout-tools.js';

describe('flotilla approvals', () => {
  const children = new ChildSet();
  let platform: TestPlatform;
  let crew: Crew;
  let url: string;
  let bobToken: string;
  let plan: Record<string, unknown>;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    crew = await makeCrew(platform);
    bobToken = await platform.operator('bobby', 'approver');
    url = platform.app.http!.url;
    await publishVersion(crew.admin, 'nginx', '1.26.0', digestOf('b'));
    await enrollGroup(platform, 'edge', 5);
    plan = await planUpgrade(crew.otto, { group: 'edge', module_name: 'nginx', target_version_id: '1.26.0' });
  });
  afterEach(() => children.killAll());
  afterAll(() => platform.close());

  const run = (args: string[], token = bobToken) =>
    children.run(['approvals', ...args], { env: cliEnv({ FLOTILLA_URL: url, FLOTILLA_TOKEN: token }) });

  it('list prints the pending requests as a table', async () => {
    const result = await run(['list']);
    expect(result.code).toBe(0);
    const out = lines(result.stdout);
    expect(out[0]).toMatch(/^ID\s+KIND\s+STATUS\s+REQUESTED_BY\s+EXPIRES_AT\s+OPTIONS\s+ABOUT\s*$/);
    expect(out).toHaveLength(2);
    expect(out[1]).toContain(String(plan.approval_request_id));
    expect(out[1]).toContain('nginx → 1.26.0 in edge: 5 instances in 5 batches');
  });

  it('approve decides the request as the token operator and prints the rollout state', async () => {
    const result = await run(['approve', String(plan.approval_request_id), '--reason', 'window open']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toBe(`approved ${String(plan.approval_request_id)}; rollout is now running`);
    const approval = await call(crew.vera, 'get_approval', { approval_request_id: plan.approval_request_id });
    expect(approval.data.approval).toMatchObject({ decided_by: 'bobby', reason: 'window open' });
  });

  it('a refused decision prints one line and exits 1', async () => {
    const result = await run(['reject', String(plan.approval_request_id)]);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^conflict: approval request .* is approved/)]);
  });

  it('refuses approve without an ID before connecting', async () => {
    const result = await run(['approve']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('needs an approval request ID');
  });
});
