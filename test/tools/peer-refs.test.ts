// Peers are named by id or by name in every tool, and errors name them as the caller gave them. Every
// tool whose input takes a peer is listed here (a new one fails the catalog check until it is): called
// with a name and with a uuid no peer has, it is refused naming exactly that; the read tools answer the
// same by id as by name for a real peering over loopback HTTP.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, type Peering } from '../helpers/federation.js';
import { digest } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const PLACEMENT = { strategy: 'weighted' };
const MIGRATION = { kind: 'publish_module_version', module_name: 'nginx', version: '9.9.9', digest: digest('f') };

/** Tool → arguments naming the peer `ref`, otherwise valid. */
const NAMING_A_PEER: Record<string, (ref: string) => Record<string, unknown>> = {
  list_federation_outbox: (ref) => ({ federation_peer_id: ref }),
  revoke_federation_peer: (ref) => ({ federation_peer_id: ref }),
  get_audit_log: (ref) => ({ federation_peer_id: ref }),
  verify_audit_log: (ref) => ({ federation_peer_id: ref }),
  list_refused_peer_requests: (ref) => ({ federation_peer_id: ref }),
  list_federation_grants: (ref) => ({ federation_peer_id: ref }),
  issue_federation_grant: (ref) => ({ federation_peer_id: ref, scopes: ['read'] }),
  create_boundary_rule: (ref) => ({
    federation_peer_id: ref,
    direction: 'ingress',
    action: 'drop',
    capability: '*',
    priority: 1,
  }),
  list_boundary_rules: (ref) => ({ federation_peer_id: ref }),
  create_peer_identity_binding: (ref) => ({ federation_peer_id: ref, remote_operator: 'ops', local_operator: 'admin' }),
  list_peer_identity_bindings: (ref) => ({ federation_peer_id: ref }),
  set_data_residency: (ref) => ({ federation_peer_id: ref, policy: null }),
  get_data_residency: (ref) => ({ federation_peer_id: ref }),
  override_data_residency: (ref) => ({ federation_peer_id: ref, resource_kinds: ['secrets'], reason: 'test' }),
  set_federation_peer_region: (ref) => ({ federation_peer_id: ref, region: 'eu-west-1' }),
  get_peer_inventory: (ref) => ({ federation_peer_id: ref }),
  get_peer_module_versions: (ref) => ({ federation_peer_id: ref }),
  create_federated_rollout: (ref) => ({ module_name: 'nginx', target_version: '1.26.0', peers: [ref], group: 'edge' }),
  start_migration_chain: (ref) => ({ migration: MIGRATION, path: [ref] }),
  plan_placement: (ref) => ({
    module_name: 'nginx',
    version: '1.26.0',
    replicas: 2,
    group: 'edge',
    peers: [ref],
    placement: PLACEMENT,
  }),
  create_federated_deployment: (ref) => ({
    name: 'refs-test',
    module_name: 'nginx',
    version: '1.26.0',
    replicas: 2,
    group: 'edge',
    peers: [ref],
    placement: PLACEMENT,
  }),
};

/** Tools taking a peer field that the table above leaves out, and why. */
const LEFT_OUT: Record<string, string> = {
  control_federated_rollout: 'pause_peer names a leg of an existing rollout (federated-rollouts.test.ts)',
  update_federated_deployment: 'needs an existing deployment; its peers resolve as create_federated_deployment',
};

const PEER_FIELDS = ['federation_peer_id', 'peers', 'path'];

/** Read tools, whose answers by id and by name must be the same. */
const READS = [
  'get_audit_log',
  'verify_audit_log',
  'list_refused_peer_requests',
  'list_federation_grants',
  'list_boundary_rules',
  'list_peer_identity_bindings',
  'get_data_residency',
  'list_federation_outbox',
  'get_peer_module_versions',
  'get_peer_inventory',
];

describe.each(STORE_KINDS)('peers named by id or name in every tool on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let peering: Peering;
  let admin: Client;

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west-1' });
    peering = await federatePair(a, b, { name: 'platform-b' });
    await bindPeerOperator(b, peering.onB.id, 'admin');
    admin = await a.memoryClient();
    const published = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.26.0',
      digest: digest('b'),
    });
    expect(published.isError, JSON.stringify(published.error)).toBe(false);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('lists every tool whose input takes a peer', async () => {
    const { tools } = await admin.listTools();
    const taking = tools
      .filter((t) => Object.keys(t.inputSchema.properties ?? {}).some((k) => PEER_FIELDS.includes(k)))
      .map((t) => t.name)
      .sort();
    expect(taking).toEqual([...Object.keys(NAMING_A_PEER), ...Object.keys(LEFT_OUT)].sort());
  });

  it.each(Object.keys(NAMING_A_PEER))('%s names an unknown peer as it was given, by name and by id', async (tool) => {
    for (const ref of ['ghost-peer-7', '0badc0de-0000-4000-8000-00000000beef']) {
      const res = await call(admin, tool, NAMING_A_PEER[tool]!(ref));
      expect(res.isError, `${tool} ${ref}`).toBe(true);
      expect(['not_found', 'conflict', 'invalid_input'], `${tool}: ${JSON.stringify(res.error)}`).toContain(
        res.error?.code,
      );
      expect(res.error?.message, tool).toContain(ref);
    }
  });

  it.each(READS)('%s answers the same by id as by name', async (tool) => {
    const byName = await call(admin, tool, NAMING_A_PEER[tool]!('platform-b'));
    const byId = await call(admin, tool, NAMING_A_PEER[tool]!(peering.onA.id));
    expect(byName.isError, JSON.stringify(byName.error)).toBe(false);
    expect(byId).toEqual(byName);
  });

  it('a refusal about a known peer names it as given: revoking twice by id, then by name', async () => {
    const first = await call(admin, 'revoke_federation_peer', { federation_peer_id: peering.onA.id });
    expect(first.isError, JSON.stringify(first.error)).toBe(false);
    const byId = await call(admin, 'revoke_federation_peer', { id: peering.onA.id });
    expect(byId.error).toMatchObject({ code: 'conflict', message: expect.stringContaining(peering.onA.id) });
    const byName = await call(admin, 'revoke_federation_peer', { federation_peer_id: 'platform-b' });
    expect(byName.error).toMatchObject({ code: 'conflict', message: expect.stringContaining('platform-b') });
    expect(byName.error!.message).not.toContain(peering.onA.id);
  });
});
