// The stale sweep on a manual clock: running instances that missed 3 heartbeat intervals go stale on a
// reconciler tick with an event each, in one statement whatever the fleet size; a heartbeat brings one
// back; terminated instances are never swept.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALE_AFTER_MISSED } from '../../src/domain/fleet.js';
import { FleetService } from '../../src/services/fleet-service.js';
import { ModulesService } from '../../src/services/modules-service.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { enroll, enrollmentTokenFor, heartbeat, listAllInstances } from '../helpers/fleet.js';
import { silentLogger, STORE_KINDS } from '../helpers/store.js';

/** Counts the statements a Kysely instance executes (a plugin on the real store, not a mock). */
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs) {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs) {
    this.count += 1;
    return args.result;
  }
}

describe.each(STORE_KINDS)('stale sweep on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;
  let intervalMs: number;
  let staleAfterMs: number;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    intervalMs = platform.app.services.fleet.heartbeatIntervalMs;
    staleAfterMs = STALE_AFTER_MISSED * intervalMs;
  });
  afterAll(() => platform.close());

  async function statusOf(id: string): Promise<string> {
    const got = await call(admin, 'get_instance', { id });
    return (got.data.instance as { status: string }).status;
  }

  async function eventsFor(kind: string, instanceId: string): Promise<Array<{ actor: string; payload: unknown }>> {
    return platform.store.db
      .selectFrom('events')
      .select(['actor', 'payload'])
      .where('kind', '=', kind)
      .where(sql<string>`payload ->> 'instance_id'`, '=', instanceId)
      .execute();
  }

  /** Sweeps every instance left running by earlier tests, so counts below are this test's own. */
  async function sweepEverythingBefore(): Promise<void> {
    await platform.app.services.fleet.sweepStale(platform.clock.advance(staleAfterMs + 1));
  }

  it('marks a running instance stale on a tick once its last heartbeat is older than 3 intervals', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-one');
    const agent = await enroll(url, t.token, 'one-1');
    const enrolledAt = platform.clock.now();

    platform.clock.advance(staleAfterMs);
    expect((await platform.app.reconciler.tickOnce()).failed).toEqual([]);
    expect(await statusOf(agent.instance_id)).toBe('running');
    expect(await eventsFor('instance.stale', agent.instance_id)).toEqual([]);

    platform.clock.advance(1);
    expect((await platform.app.reconciler.tickOnce()).failed).toEqual([]);
    expect(await statusOf(agent.instance_id)).toBe('stale');
    const events = await eventsFor('instance.stale', agent.instance_id);
    expect(events).toEqual([
      {
        actor: 'reconciler',
        payload: {
          instance_id: agent.instance_id,
          name: 'one-1',
          group_id: t.groupId,
          last_heartbeat_at: expect.any(String),
        },
      },
    ]);
    const payload = events[0]!.payload as { last_heartbeat_at: string };
    expect(new Date(payload.last_heartbeat_at).getTime()).toBe(enrolledAt.getTime());
  });

  it('keeps an instance running while it heartbeats within 3 intervals', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-alive');
    const agent = await enroll(url, t.token, 'alive-1');
    for (let i = 0; i < 5; i++) {
      platform.clock.advance(intervalMs);
      expect((await heartbeat(url, agent.agent_token)).status).toBe(200);
      await platform.app.reconciler.tickOnce();
    }
    expect(await statusOf(agent.instance_id)).toBe('running');
  });

  it('brings a stale instance back to running on its next heartbeat, with instance.recovered', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-recover');
    const agent = await enroll(url, t.token, 'rec-1');
    platform.clock.advance(staleAfterMs + 1);
    await platform.app.reconciler.tickOnce();
    expect(await statusOf(agent.instance_id)).toBe('stale');
    expect(await eventsFor('instance.recovered', agent.instance_id)).toEqual([]);

    const res = await heartbeat(url, agent.agent_token);
    expect(res.status).toBe(200);
    expect(await statusOf(agent.instance_id)).toBe('running');
    expect(await eventsFor('instance.recovered', agent.instance_id)).toEqual([
      { actor: 'agent:rec-1', payload: { instance_id: agent.instance_id, name: 'rec-1' } },
    ]);

    // A heartbeat of an instance that was running already is no recovery.
    await heartbeat(url, agent.agent_token);
    expect(await eventsFor('instance.recovered', agent.instance_id)).toHaveLength(1);
  });

  it('never sweeps a terminated instance', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-terminated');
    const agent = await enroll(url, t.token, 'term-1');
    await call(admin, 'terminate_instance', { id: agent.instance_id });
    platform.clock.advance(staleAfterMs * 10);
    await platform.app.reconciler.tickOnce();
    expect(await statusOf(agent.instance_id)).toBe('terminated');
    expect(await eventsFor('instance.stale', agent.instance_id)).toEqual([]);
  });

  it('does not sweep a stale instance again', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-twice');
    const agent = await enroll(url, t.token, 'twice-1');
    await sweepEverythingBefore();
    expect(await statusOf(agent.instance_id)).toBe('stale');
    expect(await platform.app.services.fleet.sweepStale(platform.clock.advance(staleAfterMs * 2))).toBe(0);
    expect(await eventsFor('instance.stale', agent.instance_id)).toHaveLength(1);
  });

  it('marks 200 instances stale in one statement and returns 200', async () => {
    const t = await enrollmentTokenFor(admin, 'sweep-200');
    await sweepEverythingBefore();
    const agents = await Promise.all(Array.from({ length: 200 }, (_, i) => enroll(url, t.token, `big-${i}`)));

    const counter = new StatementCounter();
    const deps = { db: platform.store.db.withPlugin(counter), clock: platform.clock, logger: silentLogger };
    const fleet = new FleetService(deps, new ModulesService(deps), intervalMs);
    const swept = await fleet.sweepStale(platform.clock.advance(staleAfterMs + 1));

    expect(swept).toBe(200);
    expect(counter.count).toBe(1);
    expect(await listAllInstances(admin, { group: 'sweep-200', status: 'stale' })).toHaveLength(200);
    const events = await platform.store.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'instance.stale')
      .where(
        sql<string>`payload ->> 'instance_id'`,
        'in',
        agents.map((a) => a.instance_id),
      )
      .executeTakeFirstOrThrow();
    expect(Number(events.n)).toBe(200);
  });

  it('sweeps in one statement when nothing is stale too', async () => {
    await sweepEverythingBefore();
    const counter = new StatementCounter();
    const deps = { db: platform.store.db.withPlugin(counter), clock: platform.clock, logger: silentLogger };
    const fleet = new FleetService(deps, new ModulesService(deps), intervalMs);
    expect(await fleet.sweepStale(platform.clock.now())).toBe(0);
    expect(counter.count).toBe(1);
  });
});
