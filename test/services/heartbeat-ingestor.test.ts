// The heartbeat ingestor on a real store: heartbeats submitted together are written in one batch, each
// caller is answered (two from one agent included, the newer one kept), unknown tokens get null, and
// a heartbeat the store refuses fails only itself, whatever let it through.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InvalidInputError } from '../../src/errors.js';
import type { AgentHealth } from '../../src/domain/fleet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { digest, enroll, enrollmentTokenFor, publish } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('heartbeat ingestor on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    await publish(admin, 'nginx', '1.24.0', digest('a'));
  });
  afterAll(() => platform.close());

  it('answers two heartbeats of one agent submitted together from one write, keeping the newer', async () => {
    const t = await enrollmentTokenFor(admin, 'ing-twice');
    const agent = await enroll(url, t.token, 'twice-1');
    const ingestor = platform.app.ingestor;
    const [batches, written] = [ingestor.batchesWritten, ingestor.heartbeatsWritten];

    const first = ingestor.submit(agent.agent_token, {
      runningModuleDigests: { nginx: digest('1') },
      health: 'ok',
      status: 'running',
    });
    const second = ingestor.submit(agent.agent_token, {
      runningModuleDigests: { nginx: digest('2') },
      health: 'degraded',
      status: 'running',
    });
    const [a, b] = await Promise.all([first, second]);

    expect(a).toEqual({ instanceId: agent.instance_id, desired: [] });
    expect(b).toEqual({ instanceId: agent.instance_id, desired: [] });
    expect(ingestor.batchesWritten - batches).toBe(1);
    expect(ingestor.heartbeatsWritten - written).toBe(1);
    const got = await call(admin, 'get_instance', { id: agent.instance_id });
    expect(got.data.instance).toMatchObject({ running_module_digests: { nginx: digest('2') }, health: 'degraded' });
  });

  it('answers null to an unknown token in a batch and still writes the others', async () => {
    const t = await enrollmentTokenFor(admin, 'ing-mixed');
    const agent = await enroll(url, t.token, 'mixed-1');
    await call(admin, 'assign_module_version', { group: 'ing-mixed', module_name: 'nginx', version_id: '1.24.0' });
    const ingestor = platform.app.ingestor;
    const batches = ingestor.batchesWritten;
    const beat = { runningModuleDigests: {}, health: 'ok' as const, status: 'running' };
    const [unknown, known] = await Promise.all([
      ingestor.submit('fla_unknown', beat),
      ingestor.submit(agent.agent_token, beat),
    ]);
    expect(unknown).toBeNull();
    expect(known).toMatchObject({
      instanceId: agent.instance_id,
      desired: [{ module_name: 'nginx', version: '1.24.0' }],
    });
    expect(ingestor.batchesWritten - batches).toBe(1);
  });

  it('writes 100 agents submitted together in one batch', async () => {
    const t = await enrollmentTokenFor(admin, 'ing-100');
    const agents = await Promise.all(Array.from({ length: 100 }, (_, i) => enroll(url, t.token, `h-${i}`)));
    const ingestor = platform.app.ingestor;
    const batches = ingestor.batchesWritten;
    const acks = await Promise.all(
      agents.map((a) => ingestor.submit(a.agent_token, { runningModuleDigests: {}, health: 'ok', status: 'running' })),
    );
    expect(acks.map((a) => a?.instanceId)).toEqual(agents.map((a) => a.instance_id));
    expect(ingestor.batchesWritten - batches).toBe(1);
  });

  it('writes every heartbeat of a batch the store refuses one value of, and answers only that one invalid_input', async () => {
    const t = await enrollmentTokenFor(admin, 'ing-isolate');
    const agents = await Promise.all(Array.from({ length: 40 }, (_, i) => enroll(url, t.token, `iso-${i}`)));
    const ingestor = platform.app.ingestor;
    const written = ingestor.heartbeatsWritten;
    platform.clock.advance(1000);
    // Built past parseHeartbeat, as only the ingestor sees them: a NUL the text column refuses (a data
    // error) and a health the column's CHECK refuses (a constraint error), from enrolled agents.
    const bad = new Map<number, { health: AgentHealth; status: string }>([
      [7, { health: 'ok', status: 'nul\u0000' }],
      [23, { health: 'sideways' as AgentHealth, status: 'running' }],
    ]);
    const outcomes = await Promise.allSettled(
      agents.map((a, i) =>
        ingestor.submit(a.agent_token, {
          runningModuleDigests: { nginx: digest('e') },
          ...(bad.get(i) ?? { health: 'ok', status: 'fine' }),
        }),
      ),
    );

    outcomes.forEach((o, i) => {
      if (bad.has(i)) {
        expect(o.status).toBe('rejected');
        expect(o.status === 'rejected' ? o.reason : null).toBeInstanceOf(InvalidInputError);
      } else {
        expect(o).toEqual({ status: 'fulfilled', value: { instanceId: agents[i]!.instance_id, desired: [] } });
      }
    });
    expect(ingestor.heartbeatsWritten - written).toBe(38);
    const fine = await platform.store.db
      .selectFrom('instances')
      .select(['id', 'agent_status'])
      .where(
        'id',
        'in',
        agents.map((a) => a.instance_id),
      )
      .where('last_heartbeat_at', '=', platform.clock.now())
      .execute();
    expect(fine.map((r) => r.id).sort()).toEqual(
      agents
        .filter((_, i) => !bad.has(i))
        .map((a) => a.instance_id)
        .sort(),
    );
  });
});
