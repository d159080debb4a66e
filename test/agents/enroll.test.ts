// POST /agents/v1/enroll over a real loopback listener: enrollment tokens (reusable, expiring, revocable),
// re-enrollment, and malformed bodies refused by field with nothing written.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  agentCall,
  countRows,
  digest,
  enroll,
  enrollmentTokenFor,
  heartbeat,
  type AgentReply,
} from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('agent enrollment on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
  });
  afterAll(() => platform.close());

  const post = (body: unknown): Promise<AgentReply> => agentCall(url, 'POST', '/agents/v1/enroll', body);

  it('answers 201 with instance_id, agent_token, group and heartbeat_interval_ms', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-basic');
    const res = await post({ enrollment_token: t.token, name: 'web-1', region: 'eu-west-1', labels: { tier: 'web' } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      instance_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      agent_token: expect.stringMatching(/^fla_/),
      group: { id: t.groupId, name: 'enroll-basic' },
      heartbeat_interval_ms: 15_000,
    });
    const got = await call(admin, 'get_instance', { id: res.json.instance_id });
    expect(got.data.instance).toMatchObject({
      name: 'web-1',
      group: 'enroll-basic',
      status: 'running',
      region: 'eu-west-1',
      labels: { tier: 'web' },
    });
  });

  it('lets one token enroll many agents, each with its own instance and agent token', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-many');
    const agents = await Promise.all(Array.from({ length: 5 }, (_, i) => enroll(url, t.token, `m-${i}`)));
    expect(new Set(agents.map((a) => a.instance_id)).size).toBe(5);
    expect(new Set(agents.map((a) => a.agent_token)).size).toBe(5);
    const list = await call(admin, 'list_instances', { group: 'enroll-many' });
    expect((list.data.instances as unknown[]).length).toBe(5);
  });

  it('refuses a token once the clock passes its ttl with 401', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-ttl', { ttl_sec: 60 });
    expect((await post({ enrollment_token: t.token, name: 'early' })).status).toBe(201);
    platform.clock.advance(59_999);
    expect((await post({ enrollment_token: t.token, name: 'just-in-time' })).status).toBe(201);
    platform.clock.advance(1);
    const late = await post({ enrollment_token: t.token, name: 'late' });
    expect(late.status).toBe(401);
    expect(late.json).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('refuses a revoked token with 401, while agents enrolled with it keep heartbeating', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-revoke');
    const before = await enroll(url, t.token, 'r-1');
    const revoked = await call(admin, 'revoke_enrollment_token', { enrollment_token_id: t.id });
    expect(revoked.isError).toBe(false);
    expect((await post({ enrollment_token: t.token, name: 'r-2' })).status).toBe(401);
    expect((await heartbeat(url, before.agent_token)).status).toBe(200);
  });

  it('refuses an unknown token with 401 and writes nothing', async () => {
    const instances = await countRows(platform.store.db, 'instances');
    const res = await post({ enrollment_token: 'fle_not-a-real-token', name: 'ghost' });
    expect(res.status).toBe(401);
    expect(await countRows(platform.store.db, 'instances')).toBe(instances);
  });

  it('re-enrolling a name returns the same instance with a new token; the old token gets 401', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-again');
    const first = await enroll(url, t.token, 'same-name');
    const again = await post({ enrollment_token: t.token, name: 'same-name' });
    expect(again.status).toBe(200);
    expect(again.json.instance_id).toBe(first.instance_id);
    expect(again.json.agent_token).not.toBe(first.agent_token);
    expect((await heartbeat(url, first.agent_token)).status).toBe(401);
    expect((await heartbeat(url, again.json.agent_token as string)).status).toBe(200);
    const list = await call(admin, 'list_instances', { group: 'enroll-again' });
    expect((list.data.instances as unknown[]).length).toBe(1);
  });

  it('enrolls the same name in two groups as two instances', async () => {
    const a = await enrollmentTokenFor(admin, 'enroll-group-a');
    const b = await enrollmentTokenFor(admin, 'enroll-group-b');
    const inA = await enroll(url, a.token, 'shared');
    const inB = await enroll(url, b.token, 'shared');
    expect(inA.instance_id).not.toBe(inB.instance_id);
  });

  describe('malformed bodies: 400 naming the field, nothing written', () => {
    let token: string;
    beforeAll(async () => {
      token = (await enrollmentTokenFor(admin, 'enroll-bad')).token;
    });

    const cases: Array<[string, () => unknown, string]> = [
      ['missing name', () => ({ enrollment_token: token }), 'name'],
      ['a name with a space', () => ({ enrollment_token: token, name: 'bad name' }), 'name'],
      ['an unknown key', () => ({ enrollment_token: token, name: 'ok-1', nmae: 'typo' }), 'nmae'],
      [
        'a bad digest',
        () => ({ enrollment_token: token, name: 'ok-2', running_module_digests: { nginx: 'sha256:xyz' } }),
        'running_module_digests.nginx',
      ],
      [
        'a bad module name',
        () => ({ enrollment_token: token, name: 'ok-3', running_module_digests: { 'Bad Name': digest('a') } }),
        'running_module_digests.Bad Name',
      ],
      ['a body that is not JSON', () => '{"enrollment_token": ', 'body'],
      ['an empty body', () => undefined, 'body'],
      ['a JSON array', () => [token], 'body'],
    ];

    it.each(cases)('%s', async (_label, makeBody, field) => {
      const db = platform.store.db;
      const [instances, events] = [await countRows(db, 'instances'), await countRows(db, 'events')];
      const res = await post(makeBody());
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_input', field } });
      expect((res.json.error as { message: string }).message).toContain(field);
      expect(await countRows(db, 'instances')).toBe(instances);
      expect(await countRows(db, 'events')).toBe(events);
    });

    it('refuses a malformed body before looking at the token', async () => {
      const res = await post({ enrollment_token: 'fle_unknown', name: '' });
      expect(res.status).toBe(400);
    });
  });

  it('records the running digests sent at enrollment', async () => {
    const t = await enrollmentTokenFor(admin, 'enroll-digests');
    const e = await enroll(url, t.token, 'd-1', { running_module_digests: { nginx: digest('a') } });
    const got = await call(admin, 'get_instance', { id: e.instance_id });
    expect((got.data.instance as { running_module_digests: unknown }).running_module_digests).toEqual({
      nginx: digest('a'),
    });
  });
});
