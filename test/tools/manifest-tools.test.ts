// diff_manifest and apply_manifest on a real platform federated with another: the shipped
// examples/fleet.yaml (with a federated deployment over the peer) diffs as all creates, applies through
// the services (events, audit entries, the deployment's outboxed share), and then diffs and applies as
// nothing to change; an invalid manifest is refused with every error located by its path and nothing
// applied; a viewer cannot apply and an operator cannot make admin changes; a deployment is updated,
// pruned, and its name then refused.
import fs from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { ConflictError } from '../../src/errors.js';
import type { BoundaryService } from '../../src/services/boundary-service.js';
import { ManifestService } from '../../src/services/manifest-service.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, rejection } from '../helpers/federation.js';
import { silentLogger, STORE_KINDS } from '../helpers/store.js';

const EXAMPLE = fs.readFileSync(new URL('../../examples/fleet.yaml', import.meta.url), 'utf8');
const D = (c: string): string => `sha256:${c.repeat(64)}`;

const TABLES = [
  'events',
  'modules',
  'module_versions',
  'intervention_policies',
  'data_residency_policies',
  'boundary_rules',
  'peer_audit_log',
  'federated_deployments',
  'federated_deployment_shares',
  'federation_outbox',
] as const;

describe.each(STORE_KINDS)('manifest tools on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let admin: Client;
  let operator: Client;
  let viewer: Client;

  /** Row counts of everything a manifest can change, plus module versions' states and rules. */
  const snapshot = async () => {
    const counts = {} as Record<(typeof TABLES)[number], number>;
    for (const table of TABLES) {
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(a.store.db);
      counts[table] = Number(r.rows[0]!.n);
    }
    return {
      counts,
      versions: await a.store.db
        .selectFrom('module_versions')
        .select(['version', 'lifecycle_state'])
        .orderBy('version')
        .execute(),
      rules: await a.store.db.selectFrom('boundary_rules').select(['priority', 'action']).orderBy('priority').execute(),
      deployments: await a.store.db
        .selectFrom('federated_deployments')
        .select(['name', 'version', 'replicas', 'state', 'updated_at'])
        .orderBy('name')
        .execute(),
    };
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west' });
    await federatePair(a, b, { name: 'eu-partner' });
    admin = await a.memoryClient();
    operator = await a.memoryClient(await a.operator('otto', 'operator'));
    viewer = await a.memoryClient(await a.operator('vera', 'viewer'));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('diff on a fresh platform lists every item as a create and changes nothing', async () => {
    const before = await snapshot();
    const res = await call(viewer, 'diff_manifest', { manifest: EXAMPLE });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.up_to_date).toBe(false);
    // The store starts with the default policy stored (require_approval, four eyes): the example's is unchanged.
    expect(res.data.counts).toEqual({ create: 10, update: 0, delete: 0, none: 1 });
    expect(res.data.summary).toBe('would change: 10 to create, 0 to update, 0 to delete, 1 unchanged');
    const changes = res.data.changes as Array<Record<string, string>>;
    expect(changes[1]).toEqual({
      section: 'modules',
      path: 'modules[0].versions[1]',
      target: 'nginx 1.25.4',
      change: 'create',
      detail: expect.stringContaining('published → blessed → live'),
    });
    expect(changes.map((c) => c.section)).toEqual([
      ...Array<string>(5).fill('modules'),
      'intervention_policies',
      'data_residency',
      'boundary_rules',
      'boundary_rules',
      'boundary_rules',
      'federated_deployments',
    ]);
    expect(changes[10]).toEqual({
      section: 'federated_deployments',
      path: 'federated_deployments.deployments[0]',
      target: 'web-nginx',
      change: 'create',
      detail: 'place 3 × nginx 1.25.4 (group web) over eu-partner, weighted',
    });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an invalid manifest with every error located by its path, applying nothing', async () => {
    const before = await snapshot();
    const bad = EXAMPLE.replace('lifecycle_state: blessed', 'lifecycle_state: shiny')
      .replace('replicas: 3', 'replicas: -3')
      .replace('strategy: weighted', 'strategy: weighted\n        regions: [eu]');
    const res = await call(admin, 'apply_manifest', { manifest: bad });
    expect(res.isError).toBe(true);
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toMatch(/^the manifest is invalid \(3 errors\): /);
    expect(res.error?.message).toContain('modules[0].versions[2].lifecycle_state:');
    expect(res.error?.message).toContain('federated_deployments.deployments[0].replicas:');
    expect(res.error?.message).toContain(
      'federated_deployments.deployments[0].placement.regions: regions apply to the geo_affinity strategy, not weighted',
    );
    expect(res.error?.hint).toContain('nothing was applied');
    expect(await snapshot()).toEqual(before);
  });

  it('a viewer cannot apply, and an operator cannot make the admin-only changes; nothing changes', async () => {
    const before = await snapshot();
    const byViewer = await call(viewer, 'apply_manifest', { manifest: EXAMPLE });
    expect(byViewer.error?.code).toBe('forbidden');
    const byOperator = await call(operator, 'apply_manifest', { manifest: EXAMPLE });
    expect(byOperator.error?.code).toBe('forbidden');
    expect(byOperator.error?.message).toContain('peers[0].data_residency');
    expect(byOperator.error?.message).toContain('peers[0].boundary_rules.rules[1]');
    expect(byOperator.error?.message).toContain(
      'federated_deployments.deployments[0]: create of web-nginx needs the admin role; the caller is operator',
    );
    expect(byOperator.error?.message).not.toContain('modules[');
    expect(await snapshot()).toEqual(before);
  });

  it('apply applies the example through the services, pruning an undeclared rule', async () => {
    const extra = await call(admin, 'create_boundary_rule', {
      federation_peer_id: 'eu-partner',
      direction: 'ingress',
      action: 'accept',
      capability: 'audit.read',
      priority: 50,
    });
    expect(extra.isError, JSON.stringify(extra.error)).toBe(false);
    const before = await snapshot();
    const res = await call(admin, 'apply_manifest', { manifest: EXAMPLE });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.counts).toEqual({ create: 10, update: 0, delete: 1, none: 1 });
    expect(res.data.summary).toBe('applied: 10 created, 0 updated, 1 deleted, 1 unchanged');
    expect((res.data.applied as unknown[]).length).toBe(11);

    const after = await snapshot();
    expect(after.versions).toEqual([
      { version: '1.24.0', lifecycle_state: 'archived' },
      { version: '1.25.4', lifecycle_state: 'live' },
      { version: '1.26.0', lifecycle_state: 'blessed' },
      { version: '1.27.0', lifecycle_state: 'published' },
      { version: '1.27.1', lifecycle_state: 'draft' },
    ]);
    expect(after.rules).toEqual([
      { priority: 10, action: 'accept' },
      { priority: 20, action: 'accept' },
      { priority: 100, action: 'drop' },
    ]);
    // 5 publishes, 4 promotions (1.24.0: 1, 1.25.4: 2, 1.26.0: 1), residency, 3 rules created, 1 deleted,
    // the federated deployment created.
    expect(after.counts.events - before.counts.events).toBe(5 + 4 + 1 + 4 + 1);
    // residency set, three rules created, one deleted, the share's call queued: each on the peer's log.
    expect(after.counts.peer_audit_log - before.counts.peer_audit_log).toBe(6);
    // The deployment, its one share (the peer's, all 3 replicas) and that share's deployments.assign outboxed.
    expect(after.counts.federation_outbox - before.counts.federation_outbox).toBe(1);
    const deployment = await call(viewer, 'get_federated_deployment', { federated_deployment_id: 'web-nginx' });
    expect(deployment.data.federated_deployment).toMatchObject({
      module_name: 'nginx',
      version: '1.25.4',
      replicas: 3,
      group: 'web',
      peers: ['eu-partner'],
      include_local: false,
      state: 'active',
      created_by: 'admin',
      shares: [expect.objectContaining({ peer_name: 'eu-partner', desired: 3 })],
    });
    const residency = await call(viewer, 'get_data_residency', { federation_peer_id: 'eu-partner' });
    expect(residency.data.policy).toMatchObject({ resource_kinds: ['secrets', 'credentials'], region: 'eu-west' });
    const policies = await call(viewer, 'list_intervention_policies');
    expect(policies.data.policies).toEqual([
      expect.objectContaining({
        action: 'system.fleet_rolling_upgrade',
        mode: 'require_approval',
        four_eyes: true,
      }),
    ]);
  });

  it('refuses a changed digest and an unknown peer together, once the schema holds; nothing changes', async () => {
    const before = await snapshot();
    const manifest = EXAMPLE.replace('federation_peer_id: eu-partner', 'federation_peer_id: nobody').replace(
      'sha256:36c650a3e82fa4d3ba1187b2611602698210fdb25ec1904a54da8f44bb5c3582',
      D('f'),
    );
    for (const tool of ['diff_manifest', 'apply_manifest']) {
      const refused = await call(admin, tool, { manifest });
      expect(refused.error?.code).toBe('invalid_input');
      expect(refused.error?.message).toMatch(/^the manifest is invalid \(2 errors\): /);
      expect(refused.error?.message).toContain('modules[0].versions[0].digest: nginx 1.24.0 is already published');
      expect(refused.error?.message).toContain('peers[0].federation_peer_id: no federation peer nobody');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a second diff says nothing would change and a second apply changes nothing', async () => {
    const before = await snapshot();
    const diff = await call(viewer, 'diff_manifest', { manifest: EXAMPLE });
    expect(diff.data).toMatchObject({
      up_to_date: true,
      counts: { create: 0, update: 0, delete: 0, none: 11 },
      summary: 'nothing would change: the platform already matches the manifest (11 items)',
    });
    const again = await call(admin, 'apply_manifest', { manifest: EXAMPLE });
    expect(again.data).toMatchObject({
      up_to_date: true,
      applied: [],
      summary: 'nothing changed: the platform already matches the manifest (11 items)',
    });
    // No event, no outbox row, the deployment not touched (its updated_at included).
    expect(await snapshot()).toEqual(before);
  });

  it('an operator may apply the example once it is applied: nothing admin-only would change', async () => {
    const before = await snapshot();
    const res = await call(operator, 'apply_manifest', { manifest: EXAMPLE });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.up_to_date).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('updates what changed: a promotion, a policy and a replaced rule, as JSON', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'flotilla/v1',
      kind: 'Fleet',
      modules: [
        {
          module_name: 'nginx',
          versions: [
            {
              version: '1.26.0',
              digest: 'sha256:d1bb8f24d6417ee623d77d588d91f8be3ef1d297cedc48b59af69a83aab2e29a',
              lifecycle_state: 'live',
            },
          ],
        },
      ],
      intervention_policies: [{ action: 'system.fleet_rolling_upgrade', mode: 'auto', four_eyes: false }],
      peers: [
        {
          federation_peer_id: 'eu-partner',
          boundary_rules: { rules: [{ action: 'drop', capability: 'versions.read', priority: 10 }] },
        },
      ],
    });
    const diff = await call(viewer, 'diff_manifest', { manifest });
    expect(diff.data.counts).toEqual({ create: 0, update: 3, delete: 0, none: 0 });
    const res = await call(admin, 'apply_manifest', { manifest });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect((res.data.applied as Array<{ detail: string }>).map((c) => c.detail)).toEqual([
      'promote blessed → live',
      'set auto, four_eyes false (was require_approval, four_eyes true)',
      'replace accept versions.read with drop versions.read',
    ]);
    const after = await snapshot();
    expect(after.versions.find((v) => v.version === '1.26.0')?.lifecycle_state).toBe('live');
    // Not pruned: the rules at 20 and 100 are left alone.
    expect(after.rules).toEqual([
      { priority: 10, action: 'drop' },
      { priority: 20, action: 'accept' },
      { priority: 100, action: 'drop' },
    ]);
  });

  it('updates a federated deployment that differs, through update_federated_deployment’s service', async () => {
    // The example's federated_deployments section alone (the test above changed its other sections).
    const section = `apiVersion: flotilla/v1\nkind: Fleet\n${EXAMPLE.slice(EXAMPLE.indexOf('federated_deployments:'))}`;
    const manifest = section
      .replace('replicas: 3', 'replicas: 4')
      .replace('max: { eu-partner: 10 }', 'max: { eu-partner: 10 }\n      failback: false');
    const diff = await call(viewer, 'diff_manifest', { manifest });
    expect(diff.data.counts).toEqual({ create: 0, update: 1, delete: 0, none: 0 });
    const change = (diff.data.changes as Array<Record<string, string>>).find((c) => c.change === 'update');
    expect(change).toEqual({
      section: 'federated_deployments',
      path: 'federated_deployments.deployments[0]',
      target: 'web-nginx',
      change: 'update',
      detail: 'change replicas 3 → 4; failback true → false',
    });
    const before = await snapshot();
    const res = await call(admin, 'apply_manifest', { manifest });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.counts).toMatchObject({ update: 1 });
    const after = await snapshot();
    expect(after.deployments).toEqual([expect.objectContaining({ name: 'web-nginx', replicas: 4, state: 'active' })]);
    // federation.deployment.updated, and the peer's share sent again.
    expect(after.counts.events - before.counts.events).toBe(1);
    expect(after.counts.federation_outbox - before.counts.federation_outbox).toBe(1);
    const got = await call(viewer, 'get_federated_deployment', { federated_deployment_id: 'web-nginx' });
    expect(got.data.federated_deployment).toMatchObject({ replicas: 4, failback: false });
    const again = await call(admin, 'apply_manifest', { manifest });
    expect(again.data.up_to_date).toBe(true);
    expect(await snapshot()).toEqual(after);
  });

  it('prunes an undeclared deployment only with prune: true, and then refuses its name', async () => {
    const none = `apiVersion: flotilla/v1
kind: Fleet
federated_deployments:
  prune: PRUNE
  deployments: []
`;
    const kept = await call(admin, 'apply_manifest', { manifest: none.replace('PRUNE', 'false') });
    expect(kept.data).toMatchObject({ up_to_date: true, counts: { create: 0, update: 0, delete: 0, none: 0 } });
    const diff = await call(viewer, 'diff_manifest', { manifest: none.replace('PRUNE', 'true') });
    expect(diff.data.changes).toEqual([
      {
        section: 'federated_deployments',
        path: 'federated_deployments',
        target: 'web-nginx',
        change: 'delete',
        detail: 'delete (prune: true); stops reconciling it, what its shares assigned stays assigned',
      },
    ]);
    const byOperator = await call(operator, 'apply_manifest', { manifest: none.replace('PRUNE', 'true') });
    expect(byOperator.error?.message).toContain(
      'federated_deployments: delete of web-nginx needs the admin role; the caller is operator',
    );
    const pruned = await call(admin, 'apply_manifest', { manifest: none.replace('PRUNE', 'true') });
    expect(pruned.isError, JSON.stringify(pruned.error)).toBe(false);
    expect(pruned.data.counts).toEqual({ create: 0, update: 0, delete: 1, none: 0 });
    expect((await snapshot()).deployments).toEqual([expect.objectContaining({ name: 'web-nginx', state: 'deleted' })]);

    const before = await snapshot();
    for (const tool of ['diff_manifest', 'apply_manifest']) {
      const refused = await call(admin, tool, { manifest: EXAMPLE });
      expect(refused.error?.code).toBe('invalid_input');
      expect(refused.error?.message).toBe(
        'the manifest is invalid (1 error): federated_deployments.deployments[0].name: federated deployment web-nginx was deleted and deleted deployments keep their names; declare it under another name',
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a change refused after validation stops the apply and names what was applied before it', async () => {
    // A boundary service whose create fails as if another admin took the priority meanwhile.
    const services = a.app.services;
    const racing = {
      create: () => Promise.reject(new ConflictError('priority 30 was taken meanwhile')),
      delete: (caller: Caller, id: string) => services.boundary.delete(caller, id),
    } as unknown as BoundaryService;
    const manifests = new ManifestService(
      { db: a.store.db, clock: a.clock, logger: silentLogger },
      { modules: services.modules, policies: services.policies, residency: services.residency, boundary: racing },
    );
    const manifest = `apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: redis
    versions: [{ version: 7.2.0, digest: ${D('c')}, lifecycle_state: published }]
peers:
  - federation_peer_id: eu-partner
    boundary_rules:
      rules: [{ action: accept, capability: inventory.read, priority: 30 }]
`;
    const admin: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'admin', role: 'admin' };
    const err = (await rejection(manifests.apply(admin, manifest))) as {
      code?: unknown;
      message: string;
      details?: Record<string, unknown>;
    };
    expect(err.code).toBe('conflict');
    expect(err.message).toBe(
      'apply stopped at peers[0].boundary_rules.rules[0] (eu-partner priority 30) after 1 change(s): priority 30 was taken meanwhile',
    );
    expect(err.details).toEqual({ applied: ['modules[0].versions[0]'], failed_at: 'peers[0].boundary_rules.rules[0]' });
    const diff = await call(viewer, 'diff_manifest', { manifest });
    expect(diff.data.counts).toEqual({ create: 1, update: 0, delete: 0, none: 1 });
  });

  it('a manifest service built without federated deployments diffs them but applies nothing of it', async () => {
    const services = a.app.services;
    const manifests = new ManifestService(
      { db: a.store.db, clock: a.clock, logger: silentLogger },
      {
        modules: services.modules,
        policies: services.policies,
        residency: services.residency,
        boundary: services.boundary,
      },
    );
    const manifest = `apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: redis
    versions: [{ version: 7.4.0, digest: ${D('d')}, lifecycle_state: published }]
federated_deployments:
  deployments:
    - { name: cache, module_name: redis, version: 7.4.0, replicas: 1, group: cache, peers: [eu-partner], placement: { strategy: weighted } }
`;
    expect((await manifests.diff(manifest)).counts).toEqual({ create: 2, update: 0, delete: 0, none: 0 });
    const before = await snapshot();
    const admin: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'admin', role: 'admin' };
    const err = await rejection(manifests.apply(admin, manifest));
    expect(err.code).toBe('unavailable');
    expect(await snapshot()).toEqual(before);
  });
});
