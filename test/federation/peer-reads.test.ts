// Reads across a peering between two real platforms over loopback HTTP: A (us-east-1) reads B's
// (eu-west-1) fleet and module versions on behalf of its operator. Allowed reads answer B's data;
// B's data residency policy pinning inventory to eu-west-1 refuses with 403 and not a byte of
// inventory (module versions still flow); an operator B does not know is refused; and A's topology
// shows the peering with its round trip, boundary summary and residency policy.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, postToPeer, type Peering } from '../helpers/federation.js';
import { digest, enroll, enrollmentTokenFor, heartbeat } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('peer reads and topology on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let adminA: Client;
  let adminB: Client;
  let peering: Peering;

  const auditActions = async (p: TestPlatform, peerId: string): Promise<string[]> => {
    const { page } = await p.app.services.federation.auditLog(peerId, { limit: 500 });
    return page.items.map((e) => e.action);
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'us-east-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west-1' });
    adminA = await a.memoryClient();
    adminB = await b.memoryClient();
    const urlB = b.app.http!.url;
    const edge = await enrollmentTokenFor(adminB, 'edge', { region: 'eu-west-1' });
    const core = await enrollmentTokenFor(adminB, 'core');
    const edge1 = await enroll(urlB, edge.token, 'edge-1');
    await enroll(urlB, edge.token, 'edge-2');
    await enroll(urlB, core.token, 'core-1');
    expect(
      (await heartbeat(urlB, edge1.agent_token, { running_module_digests: { nginx: digest('a') }, health: 'ok' }))
        .status,
    ).toBe(200);
    for (const [version, c] of [
      ['1.24.0', 'a'],
      ['1.26.0', 'b'],
    ] as const) {
      b.clock.advance(1000);
      const res = await call(adminB, 'publish_module_version', { module_name: 'nginx', version, digest: digest(c) });
      expect(res.isError, JSON.stringify(res.error)).toBe(false);
    }
    await call(adminB, 'publish_module_version', { module_name: 'redis', version: '7.2.0', digest: digest('c') });
    peering = await federatePair(a, b, { name: 'platform-b' });
    await bindPeerOperator(b, peering.onB.id, 'admin');
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("reads the peer's fleet summarized, on behalf of the calling operator, audited on both sides", async () => {
    const res = await call(adminA, 'get_peer_inventory', { federation_peer_id: 'platform-b' });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data).toMatchObject({
      federation_peer_id: peering.onA.id,
      federation_peer_name: 'platform-b',
      group: null,
      total_instances: 3,
      by_group: { edge: 2, core: 1 },
      by_status: { running: 3 },
      by_region: { 'eu-west-1': 2, unknown: 1 },
      truncated: false,
    });
    expect(res.data.instances).toEqual([
      expect.objectContaining({ name: 'core-1', group: 'core', region: null, status: 'running' }),
      expect.objectContaining({
        name: 'edge-1',
        group: 'edge',
        region: 'eu-west-1',
        running_module_digests: { nginx: digest('a') },
        last_heartbeat_at: expect.any(String),
      }),
      expect.objectContaining({ name: 'edge-2', group: 'edge' }),
    ]);
    expect(await auditActions(a, peering.onA.id)).toContain('peer.call.sent');
    const { page } = await b.app.services.federation.auditLog(peering.onB.id, { limit: 500 });
    expect(page.items.at(-1)).toMatchObject({
      action: 'peer.call.received',
      actor: 'peer:platform-a/admin',
      payload: expect.objectContaining({ operation: 'inventory.summary', on_behalf_of: 'admin' }),
    });
  });

  it('filters by group, and names a group the peer lacks as not found', async () => {
    const edge = await call(adminA, 'get_peer_inventory', { federation_peer_id: peering.onA.id, group: 'edge' });
    expect(edge.data).toMatchObject({ group: 'edge', total_instances: 2, by_group: { edge: 2 } });
    const none = await call(adminA, 'get_peer_inventory', { federation_peer_id: 'platform-b', group: 'ghosts' });
    expect(none.error).toMatchObject({ code: 'not_found', message: expect.stringContaining('no group ghosts') });
  });

  it("reads the peer's modules with versions, lifecycle states and digests", async () => {
    const all = await call(adminA, 'get_peer_module_versions', { federation_peer_id: 'platform-b' });
    expect(all.isError, JSON.stringify(all.error)).toBe(false);
    expect(all.data).toEqual({
      federation_peer_id: peering.onA.id,
      federation_peer_name: 'platform-b',
      modules: [
        {
          name: 'nginx',
          versions: [
            expect.objectContaining({ version: '1.24.0', lifecycle_state: 'published', digest: digest('a') }),
            expect.objectContaining({ version: '1.26.0', lifecycle_state: 'published', digest: digest('b') }),
          ],
        },
        { name: 'redis', versions: [expect.objectContaining({ version: '7.2.0', digest: digest('c') })] },
      ],
      truncated: false,
    });
    const one = await call(adminA, 'get_peer_module_versions', {
      federation_peer_id: 'platform-b',
      module_name: 'redis',
    });
    expect((one.data.modules as Array<{ name: string }>).map((m) => m.name)).toEqual(['redis']);
  });

  it("refuses when B's residency policy keeps inventory in eu-west-1: 403, audited, no inventory byte sent", async () => {
    const receivedBefore = (await auditActions(b, peering.onB.id)).filter((x) => x === 'peer.call.received').length;
    const set = await call(adminB, 'set_data_residency', {
      federation_peer_id: peering.onB.id,
      policy: { resource_kinds: ['inventory'], constraint: 'must_not_leave_region', region: 'eu-west-1' },
    });
    expect(set.data).toMatchObject({ complies: false, peer_region: 'us-east-1' });

    const res = await call(adminA, 'get_peer_inventory', { federation_peer_id: 'platform-b' });
    expect(res.error).toMatchObject({ code: 'data_residency_violation' });
    expect(res.error?.hint).toMatch(/set_data_residency|override_data_residency/);

    // The raw answer to a signed call from A: 403 and no instance in it.
    const signer = await a.app.services.federation.protocol.signer();
    const raw = await postToPeer(
      b.app.http!.url,
      '/federation/v1/calls/inventory.summary',
      { to: b.app.platformId, on_behalf_of: 'admin', idempotency_key: null, args: {} },
      { signer, now: a.clock.now() },
    );
    expect(raw.status).toBe(403);
    const text = JSON.stringify(raw.json);
    expect(raw.json).toMatchObject({ error: { code: 'data_residency_violation' } });
    for (const leaked of ['edge-1', 'edge-2', 'core-1', digest('a')]) expect(text).not.toContain(leaked);

    const { page } = await b.app.services.federation.auditLog(peering.onB.id, { limit: 500 });
    const violations = page.items.filter((e) => e.action === 'data_residency.violation');
    expect(violations).toHaveLength(2);
    expect(violations[0]!.payload).toMatchObject({
      action: 'inventory.summary',
      resource_kinds: ['inventory'],
      peer_region: 'us-east-1',
      policy_region: 'eu-west-1',
    });
    expect(page.items.filter((e) => e.action === 'peer.call.received')).toHaveLength(receivedBefore);

    // Module versions are not pinned: they still flow.
    const versions = await call(adminA, 'get_peer_module_versions', { federation_peer_id: 'platform-b' });
    expect(versions.isError).toBe(false);
  });

  it("an override on B lets one inventory read through, then B's policy refuses again", async () => {
    const created = await call(adminB, 'override_data_residency', {
      federation_peer_id: peering.onB.id,
      resource_kinds: ['inventory'],
      reason: 'quarterly capacity review',
    });
    expect(created.isError, JSON.stringify(created.error)).toBe(false);
    expect((await call(adminA, 'get_peer_inventory', { federation_peer_id: 'platform-b' })).data).toMatchObject({
      total_instances: 3,
    });
    const again = await call(adminA, 'get_peer_inventory', { federation_peer_id: 'platform-b' });
    expect(again.error?.code).toBe('data_residency_violation');
    expect(await auditActions(b, peering.onB.id)).toContain('data_residency.override_used');
    await call(adminB, 'set_data_residency', { federation_peer_id: peering.onB.id, policy: null });
  });

  it('refuses a read on behalf of an operator the peer does not have, and changes nothing there', async () => {
    const alice = await a.memoryClient(await a.operator('alice', 'viewer'));
    const before = await auditActions(b, peering.onB.id);
    const res = await call(alice, 'get_peer_inventory', { federation_peer_id: 'platform-b' });
    expect(res.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('alice') });
    const after = await auditActions(b, peering.onB.id);
    expect(after.slice(before.length)).toEqual(['peer.call.refused']);
    expect(after.filter((x) => x === 'peer.call.received')).toHaveLength(
      before.filter((x) => x === 'peer.call.received').length,
    );
  });

  it('shows the topology: each peer with URL, status, region, heartbeat, round trip, boundary and residency', async () => {
    const plain = await call(adminA, 'get_federation_topology');
    expect(plain.isError, JSON.stringify(plain.error)).toBe(false);
    expect(plain.data.platform).toMatchObject({ name: 'platform-a', region: 'us-east-1' });
    expect(plain.data.peers).toEqual([
      {
        id: peering.onA.id,
        name: 'platform-b',
        spawn_role: 'parent',
        spawn_mode: 'autonomous_peer',
        status: 'active',
        remote_platform_url: b.app.http!.url,
        region: 'eu-west-1',
        last_heartbeat_at: expect.any(String),
        last_rtt_ms: expect.any(Number),
        boundary: {
          ingress_rules: 0,
          allowed_capabilities: [
            'versions.read',
            'inventory.read',
            'rollouts.request',
            'rollouts.control',
            'deployments.assign',
            'migrations.relay',
            'audit.read',
          ],
          dropped_capabilities: [],
        },
        data_residency: null,
        residency_complies: true,
      },
    ]);

    for (const rule of [
      { action: 'drop', capability: '*', priority: 100 },
      { action: 'accept', capability: 'inventory.read', priority: 10 },
    ]) {
      const res = await call(adminA, 'create_boundary_rule', {
        federation_peer_id: 'platform-b',
        direction: 'ingress',
        ...rule,
      });
      expect(res.isError, JSON.stringify(res.error)).toBe(false);
    }
    const policy = { resource_kinds: ['secrets'], constraint: 'must_not_leave_region', region: 'eu' };
    await call(adminA, 'set_data_residency', { federation_peer_id: 'platform-b', policy });
    const fenced = await call(adminA, 'get_federation_topology');
    expect((fenced.data.peers as unknown[])[0]).toMatchObject({
      boundary: {
        ingress_rules: 2,
        allowed_capabilities: ['inventory.read'],
        dropped_capabilities: expect.arrayContaining(['versions.read', 'rollouts.request', 'audit.read']),
      },
      data_residency: policy,
      residency_complies: true,
    });
  });
});
