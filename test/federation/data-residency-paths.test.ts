// Data residency on every way data leaves for a peer, between two real platforms over loopback HTTP: A in
// eu-west-1 pins module_config, inventory and deployments to the EU for B in us-east-1, B reached through a
// TCP proxy counting what A sends it. start_migration_chain and create_federated_rollout (called through
// MCP) are refused with 0 bytes on the wire and audited; heartbeats go on without capacity, audited once;
// pinning B's region (an admin's word instead of B's) changes every one of those decisions.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { countingProxy, type CountingProxy } from '../helpers/counting-proxy.js';
import { federatePair, heartbeatRound, type Peering } from '../helpers/federation.js';
import { randomDigest } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

const HEARTBEAT_MS = 15_000;
const EU_POLICY = {
  resource_kinds: ['module_config', 'inventory', 'deployments'],
  constraint: 'must_not_leave_region',
  region: 'eu-west-1',
};

describe.each(STORE_KINDS)('data residency on every outbound path on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let peering: Peering;
  let adminA: Client;
  let proxy: CountingProxy;

  const auditActions = async (): Promise<string[]> => {
    const { page } = await a.app.services.federation.auditLog(peering.onA.id, { limit: 500 });
    return page.items.map((e) => e.action);
  };
  const lastAudit = async () => {
    const { page } = await a.app.services.federation.auditLog(peering.onA.id, { limit: 500 });
    return page.items.at(-1)!;
  };
  /** What B recorded from A's heartbeats: the capacity (null: none came) and the cost per instance. */
  const reportedOnB = () =>
    b.store.db
      .selectFrom('federation_peers')
      .select(['reported_capacity', 'reported_cost_per_instance'])
      .where('id', '=', peering.onB.id)
      .executeTakeFirstOrThrow();
  const outboxRows = () => a.store.db.selectFrom('federation_outbox').selectAll().execute();
  const migration = (module: string) => ({
    kind: 'publish_module_version',
    module_name: module,
    version: '1.0.0',
    digest: randomDigest(),
  });

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'us-east-1' });
    adminA = await a.memoryClient();
    peering = await federatePair(a, b, { name: 'platform-b' });
    proxy = await countingProxy(new URL(b.app.http!.url));
    await a.store.db
      .updateTable('federation_peers')
      .set({ remote_platform_url: proxy.url })
      .where('id', '=', peering.onA.id)
      .execute();
    const set = await call(adminA, 'set_data_residency', { federation_peer_id: 'platform-b', policy: EU_POLICY });
    expect(set.data).toMatchObject({ complies: false, peer_region: 'us-east-1' });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await a?.close();
    await b?.close();
  });

  it('refuses start_migration_chain to the peer before a byte leaves, audits it, and publishes nothing', async () => {
    const before = (await auditActions()).length;
    const refused = await call(adminA, 'start_migration_chain', {
      migration: migration('eu-only'),
      path: ['platform-b'],
    });
    expect(refused.error).toMatchObject({
      code: 'data_residency_violation',
      details: { action: 'migrations.relay', resource_kinds: ['module_config'], peer_region: 'us-east-1' },
    });
    expect({ connections: proxy.connections, bytes: proxy.bytes }).toEqual({ connections: 0, bytes: 0 });
    expect((await auditActions()).slice(before)).toEqual(['data_residency.violation']);
    expect(await lastAudit()).toMatchObject({
      actor: 'system',
      payload: { action: 'migrations.relay', resource_kinds: ['module_config'], policy_region: 'eu-west-1' },
    });
    expect(await outboxRows()).toEqual([]);
    expect(await a.store.db.selectFrom('modules').select('name').where('name', '=', 'eu-only').execute()).toEqual([]);
    expect(await a.store.db.selectFrom('migration_chains').selectAll().execute()).toEqual([]);
  });

  it('refuses create_federated_rollout to the peer before its precheck leaves, audits it, and records nothing', async () => {
    const before = (await auditActions()).length;
    const refused = await call(adminA, 'create_federated_rollout', {
      module_name: 'nginx',
      target_version: '1.26.0',
      peers: ['platform-b'],
      group: 'edge',
    });
    expect(refused.error).toMatchObject({
      code: 'data_residency_violation',
      details: { action: 'rollouts.precheck', resource_kinds: ['module_config', 'deployments'] },
    });
    expect({ connections: proxy.connections, bytes: proxy.bytes }).toEqual({ connections: 0, bytes: 0 });
    expect((await auditActions()).slice(before)).toEqual(['data_residency.violation']);
    expect(await outboxRows()).toEqual([]);
    expect(await a.store.db.selectFrom('federated_rollouts').selectAll().execute()).toEqual([]);
  });

  it('heartbeats the peer without capacity, audited once however many heartbeats go', async () => {
    const before = (await auditActions()).length;
    await heartbeatRound([a], HEARTBEAT_MS);
    await heartbeatRound([a], HEARTBEAT_MS);
    await heartbeatRound([a], HEARTBEAT_MS);
    expect(proxy.bytes).toBeGreaterThan(0); // the heartbeat itself went
    const reported = await reportedOnB();
    expect(reported.reported_capacity).toBeNull();
    expect(reported.reported_cost_per_instance).not.toBeNull();
    expect((await auditActions()).slice(before)).toEqual(['data_residency.heartbeat_withheld']);
    expect(await lastAudit()).toMatchObject({
      payload: { action: 'heartbeat', resource_kinds: ['inventory'], fields: ['capacity'] },
    });
  });

  it('shows the declared region, and pinning it changes every decision (audited); unpinning restores them', async () => {
    const listed = await call(adminA, 'list_federation_peers', {});
    expect((listed.data.peers as Array<Record<string, unknown>>).find((p) => p.name === 'platform-b')).toMatchObject({
      region: 'us-east-1',
      region_source: 'declared',
      declared_region: 'us-east-1',
    });

    const pinned = await call(adminA, 'set_federation_peer_region', {
      federation_peer_id: 'platform-b',
      region: 'eu-west-1',
    });
    expect(pinned.isError, JSON.stringify(pinned.error)).toBe(false);
    expect(pinned.data).toMatchObject({
      peer_region: 'eu-west-1',
      peer_region_source: 'pinned',
      peer_declared_region: 'us-east-1',
      complies: true,
      blocked_kinds: [],
      previous_pin: null,
    });
    expect(await lastAudit()).toMatchObject({
      action: 'federation.peer.region_pinned',
      actor: 'admin',
      payload: { region: 'eu-west-1', previous_pin: null, declared_region: 'us-east-1' },
    });
    const relisted = await call(adminA, 'list_federation_peers', {});
    expect((relisted.data.peers as Array<Record<string, unknown>>).find((p) => p.name === 'platform-b')).toMatchObject({
      region: 'eu-west-1',
      region_source: 'pinned',
      declared_region: 'us-east-1',
    });

    // The same chain now goes (queued for B), and heartbeats carry capacity again, audited once.
    const started = await call(adminA, 'start_migration_chain', {
      migration: migration('eu-ok'),
      path: ['platform-b'],
    });
    expect(started.isError, JSON.stringify(started.error)).toBe(false);
    expect((await outboxRows()).map((r) => r.operation)).toEqual(['migrations.relay']);
    await heartbeatRound([a], HEARTBEAT_MS);
    await heartbeatRound([a], HEARTBEAT_MS);
    expect((await reportedOnB()).reported_capacity).not.toBeNull();
    const actions = await auditActions();
    expect(actions.filter((x) => x === 'data_residency.heartbeat_restored')).toHaveLength(1);

    const unpinned = await call(adminA, 'set_federation_peer_region', {
      federation_peer_id: 'platform-b',
      region: null,
    });
    expect(unpinned.data).toMatchObject({ peer_region: 'us-east-1', peer_region_source: 'declared', complies: false });
    const again = await call(adminA, 'start_migration_chain', {
      migration: migration('eu-again'),
      path: ['platform-b'],
    });
    expect(again.error).toMatchObject({ code: 'data_residency_violation' });
  });

  it('refuses a malformed pin and a pin by a non-admin, writing nothing', async () => {
    const before = (await auditActions()).length;
    const bad = await call(adminA, 'set_federation_peer_region', {
      federation_peer_id: 'platform-b',
      region: 'EU West\n1',
    });
    expect(bad.error).toMatchObject({ code: 'invalid_input' });
    const viewer = await a.memoryClient(await a.operator('vic', 'viewer'));
    const forbidden = await call(viewer, 'set_federation_peer_region', {
      federation_peer_id: 'platform-b',
      region: 'eu-west-1',
    });
    expect(forbidden.error).toMatchObject({ code: 'forbidden' });
    expect((await auditActions()).length).toBe(before);
  });
});
