// plan_placement over three real platforms on loopback HTTP: a host and two peers whose heartbeats carry
// their capacity (online instances per group) and cost per instance. Each strategy over real peers; data
// residency, a boundary rule dropping deployments.assign and a lost_contact peer each exclude a peer;
// and the dry run writes nothing.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, heartbeatRound, type Peering } from '../helpers/federation.js';
import { digest, enrollInstances } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const HEARTBEAT_MS = 15_000;
const ADMIN: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' };

interface ShareView {
  name: string;
  replicas: number;
  score: number;
  why: string;
  local: boolean;
}

describe.each(STORE_KINDS)('plan_placement over real peers on %s', (kind) => {
  let host: TestPlatform;
  let eu: TestPlatform;
  let us: TestPlatform;
  let toEu: Peering;
  let toUs: Peering;
  let viewer: Client;
  let admin: Client;

  const platforms = (): TestPlatform[] => [host, eu, us];
  const advanceAll = (ms: number): void => platforms().forEach((p) => p.clock.advance(ms));
  /** Every platform heartbeats its peers once. */
  const heartbeatAll = (): Promise<void> => heartbeatRound(platforms(), HEARTBEAT_MS);
  const plan = (args: Record<string, unknown>, client: Client = viewer) =>
    call(client, 'plan_placement', {
      module_name: 'nginx',
      version: '1.26.0',
      group: 'web',
      peers: ['peer-eu', 'peer-us'],
      ...args,
    });
  const shares = (data: Record<string, unknown>): Record<string, number> =>
    Object.fromEntries((data.shares as ShareView[]).map((s) => [s.name, s.replicas]));
  /** Rows that would change if anything were written on the host. */
  const footprint = async (): Promise<Record<string, unknown>> => {
    const db = host.store.db;
    const count = async (table: 'events' | 'peer_audit_log' | 'federation_outbox' | 'residency_overrides') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const peers = await db
      .selectFrom('federation_peers')
      .select(['id', 'updated_at', 'status', 'capacity_reported_at'])
      .orderBy('id')
      .execute();
    return {
      events: await count('events'),
      audit: await count('peer_audit_log'),
      outbox: await count('federation_outbox'),
      overrides: await count('residency_overrides'),
      peers,
    };
  };

  beforeAll(async () => {
    host = await startTestPlatform(kind, {}, { name: 'host', region: 'eu-west-1', costPerInstance: 2 });
    eu = await startTestPlatform(kind, {}, { name: 'eu', region: 'eu-west-1', costPerInstance: 0.5 });
    us = await startTestPlatform(kind, {}, { name: 'us', region: 'us-east-1', costPerInstance: 1.5 });
    toEu = await federatePair(host, eu, { name: 'peer-eu' });
    toUs = await federatePair(host, us, { name: 'peer-us' });
    admin = await host.memoryClient();
    viewer = await host.memoryClient(await host.operator('vera', 'viewer'));
    const published = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.26.0',
      digest: digest('b'),
    });
    expect(published.isError).toBe(false);
    await enrollInstances(eu, 'web', 6);
    await enrollInstances(us, 'web', 3);
    await enrollInstances(us, 'batch', 2);
    await enrollInstances(host, 'web', 2);
  });
  afterAll(async () => {
    for (const p of [host, eu, us]) await p?.close();
  });

  it('plans nothing from capacity never reported: resource_based excludes peers that have not said', async () => {
    const res = await plan({ replicas: 4, placement: { strategy: 'resource_based' } });
    expect(res.data.feasible).toBe(false);
    expect((res.data.excluded as Array<{ reasons: string[] }>).map((e) => e.reasons[0])).toEqual([
      expect.stringContaining('no capacity reported'),
      expect.stringContaining('no capacity reported'),
    ]);
  });

  it('receives capacity and cost through heartbeats', async () => {
    await heartbeatAll();
    const rows = await host.store.db
      .selectFrom('federation_peers')
      .select(['name', 'reported_capacity', 'reported_cost_per_instance', 'capacity_reported_at'])
      .orderBy('name')
      .execute();
    expect(rows.map((r) => [r.name, r.reported_capacity, Number(r.reported_cost_per_instance)])).toEqual([
      ['peer-eu', { web: 6 }, 0.5],
      ['peer-us', { batch: 2, web: 3 }, 1.5],
    ]);
    expect(rows[0]!.capacity_reported_at).toEqual(eu.clock.now());
    // The other way too: the peers hold the host's report.
    const onEu = await eu.store.db
      .selectFrom('federation_peers')
      .select(['reported_capacity', 'reported_cost_per_instance'])
      .where('id', '=', toEu.onB.id)
      .executeTakeFirstOrThrow();
    expect([onEu.reported_capacity, Number(onEu.reported_cost_per_instance)]).toEqual([{ web: 2 }, 2]);
  });

  it('resource_based follows the reported capacity, capped by it', async () => {
    const res = await plan({ replicas: 6, placement: { strategy: 'resource_based' } });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({ feasible: true, unplaced: 0, version: '1.26.0', group: 'web' });
    expect(shares(res.data)).toEqual({ 'peer-eu': 4, 'peer-us': 2 });
    const over = await plan({ replicas: 12, include_local: true, placement: { strategy: 'resource_based' } });
    expect(shares(over.data)).toEqual({ host: 2, 'peer-eu': 6, 'peer-us': 3 });
    expect(over.data).toMatchObject({ feasible: false, unplaced: 1 });
  });

  it('weighted follows explicit weights with min and max', async () => {
    const res = await plan({
      replicas: 8,
      include_local: true,
      placement: { strategy: 'weighted', weights: { 'peer-eu': 1, 'peer-us': 1, host: 2 }, max: { host: 2 } },
    });
    expect(shares(res.data)).toEqual({ host: 2, 'peer-eu': 3, 'peer-us': 3 });
    const local = (res.data.shares as ShareView[]).find((s) => s.name === 'host')!;
    expect(local.local).toBe(true);
    expect(local.why).toContain('max 2');
  });

  it('geo_affinity fills the preferred region first', async () => {
    const res = await plan({ replicas: 8, placement: { strategy: 'geo_affinity', regions: ['us-east-1', 'eu'] } });
    expect(shares(res.data)).toEqual({ 'peer-eu': 5, 'peer-us': 3 });
    expect((res.data.shares as ShareView[]).map((s) => [s.name, s.score])).toEqual([
      ['peer-eu', 0.5],
      ['peer-us', 1],
    ]);
  });

  it('cost_optimized fills the cheapest first, up to capacity', async () => {
    const res = await plan({ replicas: 9, include_local: true, placement: { strategy: 'cost_optimized' } });
    // eu 0.5 (6 instances), us 1.5 (3), host 2 (2).
    expect(shares(res.data)).toEqual({ host: 0, 'peer-eu': 6, 'peer-us': 3 });
    const peers = res.data.peers as Array<{ name: string; cost_per_instance: number; capacity: number }>;
    expect(peers.map((p) => [p.name, p.capacity, p.cost_per_instance])).toEqual([
      ['peer-eu', 6, 0.5],
      ['peer-us', 3, 1.5],
      ['host', 2, 2],
    ]);
  });

  it('excludes a peer data residency keeps deployments from, without using an override or auditing', async () => {
    await host.app.services.residency.set(ADMIN, 'peer-us', {
      resource_kinds: ['deployments'],
      constraint: 'must_not_leave_region',
      region: 'eu',
    });
    await host.app.services.residency.override(ADMIN, {
      ref: 'peer-us',
      resourceKinds: ['deployments'],
      reason: 'must stay unused by a dry run',
    });
    const before = await footprint();
    const res = await plan({ replicas: 4, placement: { strategy: 'resource_based' } });
    expect(shares(res.data)).toEqual({ 'peer-eu': 4 });
    expect(res.data.excluded).toEqual([
      expect.objectContaining({
        name: 'peer-us',
        reasons: ['data residency keeps deployments in eu and it is in us-east-1'],
      }),
    ]);
    expect(await footprint()).toEqual(before);
    const open = await host.app.services.residency.get('peer-us');
    expect(open.openOverrides).toHaveLength(1);
    await host.app.services.residency.set(ADMIN, 'peer-us', null);
  });

  it('excludes a peer whose boundary rules drop deployments.assign', async () => {
    const rule = await call(admin, 'create_boundary_rule', {
      federation_peer_id: 'peer-eu',
      direction: 'ingress',
      action: 'drop',
      capability: 'deployments.assign',
      priority: 10,
    });
    expect(rule.isError).toBe(false);
    const ruleId = (rule.data.boundary_rule as { id: string }).id;
    const res = await plan({ replicas: 3, placement: { strategy: 'weighted' } });
    expect(shares(res.data)).toEqual({ 'peer-us': 3 });
    const excluded = res.data.excluded as Array<{ name: string; reasons: string[] }>;
    expect(excluded.map((e) => e.name)).toEqual(['peer-eu']);
    expect(excluded[0]!.reasons[0]).toMatch(/drops deployments\.assign/);
    expect(excluded[0]!.reasons[0]).toBe(`boundary rule ${ruleId} drops deployments.assign`);
    const dropped = await call(admin, 'delete_boundary_rule', { rule_id: ruleId });
    expect(dropped.isError).toBe(false);
  });

  it('excludes a lost_contact peer, and refuses an infeasible plan with the reason for each peer', async () => {
    // Only the US platform keeps heartbeating: the host loses contact with the EU one.
    for (let i = 0; i < 3; i += 1) {
      advanceAll(HEARTBEAT_MS);
      await us.app.services.federation.heartbeats.sendDue(us.clock.now());
    }
    advanceAll(1);
    const lost = await host.app.services.federation.heartbeats.sweepStale(host.clock.now());
    expect(lost.map((p) => p.name)).toEqual(['peer-eu']);
    const res = await plan({ replicas: 5, placement: { strategy: 'resource_based' } });
    expect(shares(res.data)).toEqual({ 'peer-us': 3 });
    expect(res.data).toMatchObject({ feasible: false, unplaced: 2 });
    expect(res.data.excluded).toEqual([
      expect.objectContaining({ name: 'peer-eu', reasons: ['federation peer peer-eu is lost_contact, not active'] }),
    ]);
    expect((res.data.reasons as string[])[0]).toContain('2 of 5 replicas fit nowhere');
  });

  it('writes nothing, and refuses a bad request naming what was wrong', async () => {
    const before = await footprint();
    await plan({ replicas: 5, include_local: true, placement: { strategy: 'cost_optimized' } });
    const unknownPeer = await plan({ peers: ['nowhere'], replicas: 1, placement: { strategy: 'weighted' } });
    expect(unknownPeer.error).toMatchObject({ code: 'not_found', message: expect.stringContaining('nowhere') });
    const unknownVersion = await plan({ version: '9.9.9', replicas: 1, placement: { strategy: 'weighted' } });
    expect(unknownVersion.error?.code).toBe('not_found');
    const badWeights = await plan({ replicas: 1, placement: { strategy: 'weighted', weights: { ghost: 1 } } });
    expect(badWeights.error?.message).toContain('ghost');
    const noRegions = await plan({ replicas: 1, placement: { strategy: 'geo_affinity' } });
    expect(noRegions.error?.message).toContain('regions');
    expect(await footprint()).toEqual(before);
    expect(toUs.onA.name).toBe('peer-us');
  });
});
