import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { digestOf, enrollGroup, publishVersion } from '../helpers/rollout-tools.js';

/** A client whose human answers every form with `answer`; records the messages shown. */
async function clientWithHuman(
  platform: TestPlatform,
  token: string,
  answer: ElicitResult,
): Promise<{ client: Client; asked: string[] }> {
  const server = platform.app.createMcpServer(() => platform.app.services.operators.authenticate(token));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'human', version: '0.0.0' }, { capabilities: { elicitation: { form: {} } } });
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request.params.message);
    return answer;
  });
  await client.connect(clientSide);
  return { client, asked };
}

describe('decide_approval asks the human in the client when no decision is given', () => {
  let platform: TestPlatform;
  let approvalId: string;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    const admin = await platform.memoryClient();
    aliceToken = await platform.operator('alice', 'approver');
    bobToken = await platform.operator('bob', 'approver');
    await enrollGroup(platform, 'edge', 5);
    await publishVersion(admin, 'nginx', '1.26.0', digestOf('b'));
    const alice = await platform.memoryClient(aliceToken);
    const plan = await call(alice, 'execute_skill', {
      skill: 'system-rolling-module-upgrade',
      inputs: { group: 'edge', module_name: 'nginx', target_version_id: '1.26.0' },
    });
    approvalId = plan.data.approval_request_id as string;
  });
  afterAll(() => platform.close());

  it('refuses without a decision when the client cannot show a form, changing nothing', async () => {
    const bob = await platform.memoryClient(bobToken);
    const res = await call(bob, 'decide_approval', { approval_request_id: approvalId });
    expect(res.error?.code).toBe('invalid_input');
    expect((await call(bob, 'get_approval', { approval_request_id: approvalId })).data.approval).toMatchObject({
      status: 'pending',
    });
  });

  it('treats a form answered in the requester’s own session as the requester: four-eyes refuses it', async () => {
    const { client, asked } = await clientWithHuman(platform, aliceToken, {
      action: 'accept',
      content: { decision: 'approve' },
    });
    const res = await call(client, 'decide_approval', { approval_request_id: approvalId });
    expect(asked[0]).toContain(approvalId);
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('four-eyes');
  });

  it('leaves the request pending when the human declines', async () => {
    const { client } = await clientWithHuman(platform, bobToken, { action: 'decline' });
    const res = await call(client, 'decide_approval', { approval_request_id: approvalId });
    expect(res.error?.code).toBe('conflict');
    expect((await call(client, 'get_approval', { approval_request_id: approvalId })).data.approval).toMatchObject({
      status: 'pending',
    });
  });

  it('records the decision a second operator’s human makes in the form', async () => {
    const { client } = await clientWithHuman(platform, bobToken, {
      action: 'accept',
      content: { decision: 'approve', reason: 'looks right' },
    });
    const res = await call(client, 'decide_approval', { approval_request_id: approvalId });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({
      rollout_state: 'running',
      approval: { status: 'approved', decided_by: 'bob', reason: 'looks right' },
    });
  });
});
