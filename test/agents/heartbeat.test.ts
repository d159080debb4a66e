// POST /agents/v1/heartbeat over a real loopback listener: desired versions (group baseline, instance
// override), authentication by agent token (stored only as SHA-256), malformed bodies refused with
// nothing written, and many concurrent heartbeats written in few batches.
import { createHash } from 'node:crypto';
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
  publish,
  type Enrolled,
} from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe.each(STORE_KINDS)('agent heartbeats on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;
  const versionIds: Record<string, string> = {};

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    versionIds['nginx@1.24.0'] = await publish(admin, 'nginx', '1.24.0', digest('a'));
    versionIds['nginx@1.26.0'] = await publish(admin, 'nginx', '1.26.0', digest('b'));
    versionIds['redis@7.2.0'] = await publish(admin, 'redis', '7.2.0', digest('c'));
  });
  afterAll(() => platform.close());

  async function lastHeartbeatAt(id: string): Promise<Date | null> {
    const row = await platform.store.db
      .selectFrom('instances')
      .select('last_heartbeat_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.last_heartbeat_at;
  }

  it('answers 200 with no desired versions before anything is assigned, and records the heartbeat', async () => {
    const t = await enrollmentTokenFor(admin, 'hb-empty');
    const agent = await enroll(url, t.token, 'e-1');
    platform.clock.advance(1000);
    const res = await heartbeat(url, agent.agent_token, {
      running_module_digests: { nginx: digest('a') },
      health: 'degraded',
      status: 'starting',
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      instance_id: agent.instance_id,
      desired_module_versions: [],
      heartbeat_interval_ms: 15_000,
    });
    const got = await call(admin, 'get_instance', { id: agent.instance_id });
    expect(got.data.instance).toMatchObject({
      health: 'degraded',
      agent_status: 'starting',
      running_module_digests: { nginx: digest('a') },
      last_heartbeat_at: platform.clock.now().toISOString(),
    });
  });

  it('answers the group baseline, and an instance override wins over it for that instance only', async () => {
    const t = await enrollmentTokenFor(admin, 'hb-desired');
    const [a, b] = [await enroll(url, t.token, 'd-1'), await enroll(url, t.token, 'd-2')];
    for (const [module, version] of [
      ['nginx', '1.24.0'],
      ['redis', '7.2.0'],
    ]) {
      const r = await call(admin, 'assign_module_version', {
        group: 'hb-desired',
        module_name: module,
        version_id: version,
      });
      expect(r.isError).toBe(false);
    }
    const override = await call(admin, 'assign_module_version', {
      group: 'hb-desired',
      module_name: 'nginx',
      version_id: '1.26.0',
      instance_ids: [a.instance_id],
    });
    expect(override.data).toMatchObject({ scope: 'instances', instance_count: 1 });

    const ra = await heartbeat(url, a.agent_token);
    const rb = await heartbeat(url, b.agent_token);
    expect(ra.json.desired_module_versions).toEqual([
      { module_name: 'nginx', version: '1.26.0', version_id: versionIds['nginx@1.26.0'], digest: digest('b') },
      { module_name: 'redis', version: '7.2.0', version_id: versionIds['redis@7.2.0'], digest: digest('c') },
    ]);
    expect(rb.json.desired_module_versions).toEqual([
      { module_name: 'nginx', version: '1.24.0', version_id: versionIds['nginx@1.24.0'], digest: digest('a') },
      { module_name: 'redis', version: '7.2.0', version_id: versionIds['redis@7.2.0'], digest: digest('c') },
    ]);
  });

  it('keeps an instance override when the group baseline changes later', async () => {
    const t = await enrollmentTokenFor(admin, 'hb-order');
    const a = await enroll(url, t.token, 'o-1');
    await call(admin, 'assign_module_version', {
      group: 'hb-order',
      module_name: 'nginx',
      version_id: '1.26.0',
      instance_ids: [a.instance_id],
    });
    await call(admin, 'assign_module_version', { group: 'hb-order', module_name: 'nginx', version_id: '1.24.0' });
    const res = await heartbeat(url, a.agent_token);
    expect(res.json.desired_module_versions).toMatchObject([{ module_name: 'nginx', version: '1.26.0' }]);
  });

  describe('authentication', () => {
    let agent: Enrolled;
    beforeAll(async () => {
      agent = await enroll(url, (await enrollmentTokenFor(admin, 'hb-auth')).token, 'auth-1');
    });

    it('refuses an unknown agent token with 401', async () => {
      const res = await heartbeat(url, 'fla_not-a-real-token');
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: { code: 'unauthorized' } });
    });

    it('refuses a request without a bearer token with 401', async () => {
      const res = await heartbeat(url, undefined);
      expect(res.status).toBe(401);
    });

    it('refuses the enrollment token used as an agent token with 401', async () => {
      const t = await enrollmentTokenFor(admin, 'hb-auth');
      expect((await heartbeat(url, t.token)).status).toBe(401);
    });

    it('stores the agent token only as its SHA-256', async () => {
      const row = await platform.store.db
        .selectFrom('instances')
        .selectAll()
        .where('id', '=', agent.instance_id)
        .executeTakeFirstOrThrow();
      expect(row.agent_token_hash).toBe(sha256(agent.agent_token));
      expect(JSON.stringify(row)).not.toContain(agent.agent_token.slice(4));
    });

    it("refuses a terminated instance's token with 401", async () => {
      const other = await enroll(url, (await enrollmentTokenFor(admin, 'hb-auth')).token, 'auth-terminated');
      expect((await heartbeat(url, other.agent_token)).status).toBe(200);
      const done = await call(admin, 'terminate_instance', { id: other.instance_id });
      expect(done.isError).toBe(false);
      const res = await heartbeat(url, other.agent_token);
      expect(res.status).toBe(401);
      const got = await call(admin, 'get_instance', { id: other.instance_id });
      expect((got.data.instance as { status: string }).status).toBe('terminated');
    });
  });

  describe('malformed bodies: 400 naming the field, nothing written', () => {
    let agent: Enrolled;
    beforeAll(async () => {
      agent = await enroll(url, (await enrollmentTokenFor(admin, 'hb-bad')).token, 'bad-1');
    });

    const cases: Array<[string, unknown, string]> = [
      [
        'a bad digest',
        { running_module_digests: { nginx: 'sha256:ABC' }, health: 'ok' },
        'running_module_digests.nginx',
      ],
      [
        'a digest that is not a string',
        { running_module_digests: { nginx: 42 }, health: 'ok' },
        'running_module_digests.nginx',
      ],
      [
        'a bad module name',
        { running_module_digests: { 'Not A Module': digest('a') }, health: 'ok' },
        'running_module_digests.Not A Module',
      ],
      ['digests as an array', { running_module_digests: [digest('a')], health: 'ok' }, 'running_module_digests'],
      ['missing digests', { health: 'ok' }, 'running_module_digests'],
      ['an unknown health', { running_module_digests: {}, health: 'great' }, 'health'],
      ['missing health', { running_module_digests: {} }, 'health'],
      ['an empty status', { running_module_digests: {}, health: 'ok', status: '' }, 'status'],
      ['a NUL in status', { running_module_digests: {}, health: 'ok', status: 'run\u0000ning' }, 'status'],
      ['a lone surrogate in status', { running_module_digests: {}, health: 'ok', status: 'run\ud800' }, 'status'],
      ['an unknown key', { running_module_digests: {}, health: 'ok', helth: 'ok' }, 'helth'],
      ['a body that is not JSON', '{"health":', 'body'],
      ['an empty body', undefined, 'body'],
    ];

    it.each(cases)('%s', async (_label, body, field) => {
      const before = await lastHeartbeatAt(agent.instance_id);
      const events = await countRows(platform.store.db, 'events');
      platform.clock.advance(1000);
      const res =
        body === undefined
          ? await agentCall(url, 'POST', '/agents/v1/heartbeat', undefined, agent.agent_token)
          : await heartbeat(url, agent.agent_token, body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_input', field } });
      expect(await lastHeartbeatAt(agent.instance_id)).toEqual(before);
      expect(await countRows(platform.store.db, 'events')).toBe(events);
    });
  });

  it('writes 300 concurrent heartbeats in far fewer batches, answering every one', async () => {
    const t = await enrollmentTokenFor(admin, 'hb-many');
    const agents = await Promise.all(Array.from({ length: 300 }, (_, i) => enroll(url, t.token, `many-${i}`)));
    await call(admin, 'assign_module_version', { group: 'hb-many', module_name: 'nginx', version_id: '1.26.0' });
    const ingestor = platform.app.ingestor;
    const [batches, written] = [ingestor.batchesWritten, ingestor.heartbeatsWritten];
    platform.clock.advance(5000);
    const replies = await Promise.all(
      agents.map((a) =>
        heartbeat(url, a.agent_token, { running_module_digests: { nginx: digest('a') }, health: 'ok' }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(agents.map(() => 200));
    expect(replies.map((r) => r.json.instance_id)).toEqual(agents.map((a) => a.instance_id));
    for (const r of replies) expect(r.json.desired_module_versions).toMatchObject([{ version: '1.26.0' }]);
    expect(ingestor.heartbeatsWritten - written).toBe(300);
    const batchCount = ingestor.batchesWritten - batches;
    expect(batchCount).toBeGreaterThanOrEqual(1);
    expect(batchCount).toBeLessThanOrEqual(30);
    const fresh = await platform.store.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(
        'id',
        'in',
        agents.map((a) => a.instance_id),
      )
      .where('last_heartbeat_at', '=', platform.clock.now())
      .executeTakeFirstOrThrow();
    expect(Number(fresh.n)).toBe(300);
  });

  it('answers poisoned heartbeats from any bearer 400 and writes every legitimate one sent with them', async () => {
    const t = await enrollmentTokenFor(admin, 'hb-poison');
    const agents = await Promise.all(Array.from({ length: 200 }, (_, i) => enroll(url, t.token, `poison-${i}`)));
    platform.clock.advance(5000);
    const legit = { running_module_digests: { nginx: digest('a') }, health: 'ok', status: 'serving' };
    const poisons: Array<[string, unknown]> = [
      ['fla_not-a-token', { running_module_digests: {}, health: 'ok', status: 'x\u0000y' }],
      ['fla_not-a-token', { running_module_digests: {}, health: 'failed', status: '\udc00' }],
      [agents[0]!.agent_token.slice(0, -1), { running_module_digests: {}, health: 'ok', status: '\u0000' }],
    ];
    // Every tenth request is poisoned, so each batch the legitimate ones form holds some.
    const sends: Array<Promise<{ poisoned: boolean; status: number; json: Record<string, unknown> }>> = [];
    agents.forEach((a, i) => {
      if (i % 10 === 0) {
        const [token, body] = poisons[(i / 10) % poisons.length]!;
        sends.push(heartbeat(url, token, body).then((r) => ({ poisoned: true, ...r })));
      }
      sends.push(heartbeat(url, a.agent_token, legit).then((r) => ({ poisoned: false, ...r })));
    });
    const replies = await Promise.all(sends);

    const legitReplies = replies.filter((r) => !r.poisoned);
    expect(legitReplies.map((r) => r.status)).toEqual(agents.map(() => 200));
    for (const r of replies.filter((r) => r.poisoned)) {
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'invalid_input', field: 'status' } });
    }
    const stored = await platform.store.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(
        'id',
        'in',
        agents.map((a) => a.instance_id),
      )
      .where('last_heartbeat_at', '=', platform.clock.now())
      .where('agent_status', '=', 'serving')
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(200);
  });

  it('answers both of two heartbeats from one agent in the same batch, keeping the newer one', async () => {
    const agent = await enroll(url, (await enrollmentTokenFor(admin, 'hb-twice')).token, 'twice-1');
    const written = platform.app.ingestor.heartbeatsWritten;
    const [first, second] = await Promise.all([
      heartbeat(url, agent.agent_token, { running_module_digests: { nginx: digest('a') }, health: 'ok' }),
      heartbeat(url, agent.agent_token, { running_module_digests: { nginx: digest('b') }, health: 'ok' }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.json.instance_id).toBe(agent.instance_id);
    expect(second.json.instance_id).toBe(agent.instance_id);
    expect(platform.app.ingestor.heartbeatsWritten - written).toBeGreaterThanOrEqual(1);
  });
});
