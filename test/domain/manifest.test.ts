// The fleet manifest as pure functions: its schema (YAML or JSON, strict), every error located by its
// path, and the plan that compares it with a platform's state (lifecycle walks, digests, peers, prune).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BoundaryRule } from '../../src/domain/capabilities.js';
import { DEFAULT_DEPLOYMENT_ROLLOUT, type FederatedDeployment } from '../../src/domain/federated-deployment.js';
import {
  lifecyclePath,
  moduleVersionKey,
  parseManifest,
  planManifest,
  type Manifest,
  type ManifestState,
  type PeerManifestState,
} from '../../src/domain/manifest.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function parsed(text: string): Manifest {
  const result = parseManifest(text);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.manifest;
}

function issues(text: string): Array<{ path: string; message: string }> {
  const result = parseManifest(text);
  if (result.ok) throw new Error('expected the manifest to be refused');
  return result.issues;
}

const EMPTY: ManifestState = {
  versions: new Map(),
  policies: new Map(),
  peers: new Map(),
  federated: { deployments: new Map(), active: [], peers: new Map() },
};

describe('parseManifest', () => {
  it('reads the shipped example', () => {
    const manifest = parsed(fs.readFileSync(new URL('../../examples/fleet.yaml', import.meta.url), 'utf8'));
    expect(manifest.modules?.[0]?.versions).toHaveLength(5);
    expect(manifest.intervention_policies).toEqual([
      { action: 'system.fleet_rolling_upgrade', mode: 'require_approval', four_eyes: true },
    ]);
    expect(manifest.peers?.[0]?.boundary_rules?.rules).toHaveLength(3);
    expect(manifest.federated_deployments?.deployments.map((d) => [d.name, d.peers])).toEqual([
      ['web-nginx', ['eu-partner']],
    ]);
  });

  it('reads JSON as well as YAML', () => {
    const json = JSON.stringify({
      apiVersion: 'flotilla/v1',
      kind: 'Fleet',
      modules: [{ module_name: 'nginx', versions: [{ version: '1.0.0', digest: D1, lifecycle_state: 'live' }] }],
    });
    expect(parsed(json).modules?.[0]?.module_name).toBe('nginx');
  });

  it('refuses a wrong apiVersion or kind, naming both', () => {
    expect(issues('apiVersion: flotilla/v2\nkind: Fleets\n').map((i) => i.path)).toEqual(['apiVersion', 'kind']);
  });

  it('locates every schema error by its path, all at once', () => {
    const text = `
apiVersion: flotilla/v1
kind: Fleet
colour: blue
modules:
  - module_name: nginx
    versions:
      - { version: 1.0.0, digest: ${D1}, lifecycle_state: live }
  - module_name: Redis!
    versions:
      - { version: 7.0.0, digest: sha256:nothex, lifecycle_state: live }
      - { version: 7.0.1, digest: ${D2}, lifecycle_state: shiny, extra: 1 }
intervention_policies:
  - { action: system.fleet_rolling_upgrade, mode: sometimes, four_eyes: true }
peers:
  - federation_peer_id: b
    data_residency: { resource_kinds: [secrets], constraint: must_not_leave_region, region: EU }
    boundary_rules:
      rules:
        - { action: accept, capability: versions.write, priority: 10 }
        - { action: drop, capability: '*', priority: -1 }
`;
    const found = issues(text);
    expect(found.map((i) => i.path).sort()).toEqual(
      [
        'colour',
        'modules[1].module_name',
        'modules[1].versions[0].digest',
        'modules[1].versions[1].lifecycle_state',
        'modules[1].versions[1].extra',
        'intervention_policies[0].mode',
        'peers[0].data_residency.region',
        'peers[0].boundary_rules.rules[0].capability',
        'peers[0].boundary_rules.rules[1].priority',
      ].sort(),
    );
    expect(found.find((i) => i.path === 'modules[1].versions[0].digest')?.message).toContain('64 lowercase hex');
    expect(found.find((i) => i.path === 'colour')?.message).toBe('unknown field');
  });

  it('refuses duplicates where they would be ambiguous', () => {
    const text = `
apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: nginx
    versions:
      - { version: 1.0.0, digest: ${D1}, lifecycle_state: live }
      - { version: 1.0.0, digest: ${D2}, lifecycle_state: live }
  - module_name: nginx
    versions: [{ version: 2.0.0, digest: ${D1}, lifecycle_state: draft }]
peers:
  - federation_peer_id: b
    boundary_rules:
      rules:
        - { action: accept, capability: versions.read, priority: 10 }
        - { action: drop, capability: '*', priority: 10 }
federated_deployments:
  deployments:
    - { name: web, module_name: nginx, version: 1.0.0, replicas: 1, group: web, peers: [b], placement: { strategy: weighted } }
    - { name: web, module_name: nginx, version: 2.0.0, replicas: 1, group: web, peers: [b], placement: { strategy: weighted } }
`;
    expect(issues(text).map((i) => i.path)).toEqual([
      'modules[0].versions[1].version',
      'modules[1].module_name',
      'peers[0].boundary_rules.rules[1].priority',
      'federated_deployments.deployments[1].name',
    ]);
  });

  it('locates every error of a federated deployment by its path', () => {
    const found = issues(`apiVersion: flotilla/v1
kind: Fleet
federated_deployments:
  prune: maybe
  deployments:
    - name: web
      module_name: nginx
      version: 1.0.0
      replicas: -1
      group: web
      peers: []
      placement: { strategy: resource_based, weights: { b: 1 }, min: { b: 5 }, max: { b: 2 } }
      overrides: { b: { colour: blue } }
      rollout: { strategy: { type: percentage, steps: [50, 20] } }
      extra: 1
    - { name: web-2, module_name: nginx, version: 1.0.0, replicas: 1, group: web, peers: [b], placement: { strategy: geo_affinity } }
`);
    const at = (i: number): string => `federated_deployments.deployments[${i}]`;
    expect(found.map((i) => i.path).sort()).toEqual(
      [
        'federated_deployments.prune',
        `${at(0)}.replicas`,
        `${at(0)}.overrides.b.colour`,
        `${at(0)}.extra`,
        `${at(0)}.peers`,
        `${at(0)}.placement.weights`,
        `${at(0)}.placement.min.b`,
        `${at(0)}.rollout.strategy`,
        `${at(1)}.placement.regions`,
      ].sort(),
    );
  });

  it('locates YAML syntax errors by line and column', () => {
    const found = issues('apiVersion: flotilla/v1\nkind: Fleet\nmodules: [\n');
    expect(found[0]?.path).toMatch(/^\(line \d+, column \d+\)$/);
    expect(issues('apiVersion: a\napiVersion: b\n')[0]?.message).toMatch(/unique/i);
  });

  it('refuses an empty document and a non-object', () => {
    expect(issues('')[0]?.path).toBe('(manifest)');
    expect(issues('- 1\n- 2\n')[0]?.path).toBe('(manifest)');
  });
});

describe('lifecyclePath', () => {
  it('walks one legal step at a time, the shortest way', () => {
    expect(lifecyclePath('published', 'live')).toEqual(['blessed', 'live']);
    expect(lifecyclePath('draft', 'archived')).toEqual(['published', 'archived']);
    expect(lifecyclePath('live', 'published')).toEqual(['archived', 'published']);
    expect(lifecyclePath('live', 'live')).toEqual([]);
    expect(lifecyclePath('published', 'draft')).toBeNull();
  });
});

describe('planManifest', () => {
  const peer = (rules: Array<Partial<BoundaryRule>>, over: Partial<PeerManifestState> = {}): PeerManifestState => ({
    id: 'p1',
    name: 'b',
    status: 'active',
    residency: null,
    rules: rules.map((r, i) => ({
      id: `r${i}`,
      federationPeerId: 'p1',
      direction: 'ingress',
      action: 'accept',
      capability: 'versions.read',
      priority: 10,
      createdBy: 'x',
      createdAt: new Date(0),
      ...r,
    })),
    ...over,
  });

  it('on an empty platform, creates everything, publishing then promoting', () => {
    const plan = planManifest(
      parsed(`apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: nginx
    versions:
      - { version: 1.0.0, digest: ${D1}, lifecycle_state: live }
      - { version: 1.1.0, digest: ${D2}, lifecycle_state: draft }
intervention_policies:
  - { action: system.fleet_rolling_upgrade, mode: auto, four_eyes: false }
`),
      EMPTY,
      'admin',
    );
    expect(plan.issues).toEqual([]);
    expect(plan.changes.map((c) => [c.path, c.change, c.op])).toEqual([
      [
        'modules[0].versions[0]',
        'create',
        {
          kind: 'publish',
          moduleName: 'nginx',
          version: '1.0.0',
          digest: D1,
          draft: false,
          steps: ['blessed', 'live'],
        },
      ],
      [
        'modules[0].versions[1]',
        'create',
        { kind: 'publish', moduleName: 'nginx', version: '1.1.0', digest: D2, draft: true, steps: [] },
      ],
      [
        'intervention_policies[0]',
        'create',
        { kind: 'set_policy', action: 'system.fleet_rolling_upgrade', mode: 'auto', fourEyes: false },
      ],
    ]);
  });

  it('refuses changed digests, impossible moves and unknown or revoked peers, each by path', () => {
    const state: ManifestState = {
      versions: new Map([
        [moduleVersionKey('nginx', '1.0.0'), { digest: D1, lifecycleState: 'published' }],
        [moduleVersionKey('nginx', '1.1.0'), { digest: D2, lifecycleState: 'published' }],
      ]),
      policies: new Map(),
      peers: new Map([
        ['gone', null],
        ['old', peer([], { id: 'p2', status: 'revoked' })],
      ]),
      federated: EMPTY.federated,
    };
    const plan = planManifest(
      parsed(`apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: nginx
    versions:
      - { version: 1.0.0, digest: ${D2}, lifecycle_state: published }
      - { version: 1.1.0, digest: ${D2}, lifecycle_state: draft }
peers:
  - { federation_peer_id: gone, data_residency: null }
  - { federation_peer_id: old, data_residency: null }
`),
      state,
      'admin',
    );
    expect(plan.issues.map((i) => i.path)).toEqual([
      'modules[0].versions[0].digest',
      'modules[0].versions[1].lifecycle_state',
      'peers[0].federation_peer_id',
      'peers[1].federation_peer_id',
    ]);
    expect(plan.issues[1]?.message).toBe('nginx 1.1.0 is published and cannot go back to draft');
  });

  it('compares boundary rules by priority and prunes only when asked', () => {
    const state: ManifestState = {
      ...EMPTY,
      peers: new Map([
        [
          'b',
          peer([
            { priority: 10, action: 'accept', capability: 'versions.read' },
            { priority: 20, action: 'accept', capability: 'inventory.read' },
            { priority: 30, action: 'drop', capability: 'audit.read' },
          ]),
        ],
      ]),
    };
    const text = (prune: boolean): string => `apiVersion: flotilla/v1
kind: Fleet
peers:
  - federation_peer_id: b
    boundary_rules:
      prune: ${prune}
      rules:
        - { action: accept, capability: versions.read, priority: 10 }
        - { action: drop, capability: inventory.read, priority: 20 }
        - { action: drop, capability: '*', priority: 100 }
`;
    const kept = planManifest(parsed(text(false)), state, 'admin');
    expect(kept.changes.map((c) => [c.target, c.change])).toEqual([
      ['b priority 10', 'none'],
      ['b priority 20', 'update'],
      ['b priority 100', 'create'],
    ]);
    const pruned = planManifest(parsed(text(true)), state, 'admin');
    expect(pruned.changes.map((c) => [c.target, c.change])).toEqual([
      ['b priority 30', 'delete'],
      ['b priority 10', 'none'],
      ['b priority 20', 'update'],
      ['b priority 100', 'create'],
    ]);
  });

  it('names each change the caller role may not make, separately from invalid items', () => {
    const plan = planManifest(
      parsed(`apiVersion: flotilla/v1
kind: Fleet
intervention_policies:
  - { action: system.fleet_rolling_upgrade, mode: auto, four_eyes: false }
modules:
  - module_name: nginx
    versions: [{ version: 1.0.0, digest: ${D1}, lifecycle_state: published }]
`),
      {
        ...EMPTY,
        versions: new Map([[moduleVersionKey('nginx', '1.0.0'), { digest: D1, lifecycleState: 'archived' }]]),
      },
      'operator',
    );
    expect(plan.issues).toEqual([]);
    expect(plan.roleIssues.map((i) => i.path)).toEqual(['modules[0].versions[0]', 'intervention_policies[0]']);
    expect(planManifest(parsed('apiVersion: flotilla/v1\nkind: Fleet\n'), EMPTY, 'viewer').changes).toEqual([]);
  });

  it('sees an identical residency policy as unchanged whatever the order of its kinds', () => {
    const state: ManifestState = {
      ...EMPTY,
      peers: new Map([
        [
          'b',
          peer([], {
            residency: {
              resource_kinds: ['secrets', 'credentials'],
              constraint: 'must_not_leave_region',
              region: 'eu',
            },
          }),
        ],
      ]),
    };
    const plan = planManifest(
      parsed(`apiVersion: flotilla/v1
kind: Fleet
peers:
  - federation_peer_id: b
    data_residency: { resource_kinds: [credentials, secrets], constraint: must_not_leave_region, region: eu }
`),
      state,
      'admin',
    );
    expect(plan.changes.map((c) => c.change)).toEqual(['none']);
  });
});

describe('planManifest: federated deployments', () => {
  const deployment = (over: Partial<FederatedDeployment> = {}): FederatedDeployment => ({
    id: `fd-${over.name ?? 'web'}`,
    name: 'web',
    moduleName: 'nginx',
    version: '1.0.0',
    replicas: 3,
    groupName: 'web',
    includeLocal: false,
    placement: { strategy: 'weighted', weights: { b: 2, c: 1 } },
    overrides: {},
    peers: ['b', 'c'],
    failback: true,
    rollout: DEFAULT_DEPLOYMENT_ROLLOUT,
    state: 'active',
    createdBy: 'admin',
    createdAt: new Date(0),
    updatedAt: new Date(0),
    deletedAt: null,
    ...over,
  });
  const peers = new Map([
    ['b', { id: 'pb', name: 'b', status: 'active' as const }],
    ['c', { id: 'pc', name: 'c', status: 'active' as const }],
    ['pc', { id: 'pc', name: 'c', status: 'active' as const }],
    ['nobody', null],
  ]);
  const state = (deployments: FederatedDeployment[], active: FederatedDeployment[] = []): ManifestState => ({
    ...EMPTY,
    versions: new Map([
      [moduleVersionKey('nginx', '1.0.0'), { digest: D1, lifecycleState: 'live' }],
      [moduleVersionKey('nginx', '1.1.0'), { digest: D2, lifecycleState: 'live' }],
    ]),
    federated: { deployments: new Map(deployments.map((d) => [d.name, d])), active, peers },
  });
  const manifest = (entries: string, prune = false): Manifest =>
    parsed(`apiVersion: flotilla/v1
kind: Fleet
federated_deployments:
  prune: ${prune}
  deployments:
${entries}`);
  const WEB = `    - name: web
      module_name: nginx
      version: 1.0.0
      replicas: 3
      group: web
      peers: [c, b]
      placement: { strategy: weighted, weights: { c: 1, b: 2 } }
`;

  it('creates a deployment the platform does not have, in the service’s terms with defaults filled in', () => {
    const plan = planManifest(manifest(WEB), state([]), 'admin');
    expect(plan.issues).toEqual([]);
    expect(plan.changes).toEqual([
      {
        section: 'federated_deployments',
        path: 'federated_deployments.deployments[0]',
        target: 'web',
        change: 'create',
        detail: 'place 3 × nginx 1.0.0 (group web) over c, b, weighted',
        role: 'admin',
        op: {
          kind: 'create_deployment',
          name: 'web',
          moduleName: 'nginx',
          spec: {
            version: '1.0.0',
            replicas: 3,
            group: 'web',
            peers: ['c', 'b'],
            includeLocal: false,
            placement: { strategy: 'weighted', weights: { c: 1, b: 2 } },
            overrides: {},
            failback: true,
            rollout: DEFAULT_DEPLOYMENT_ROLLOUT,
          },
        },
      },
    ]);
  });

  it('sees a deployment as declared whatever the order of its peers and keys, defaults left out', () => {
    const plan = planManifest(manifest(WEB), state([deployment({ overrides: { c: {} } })]), 'operator');
    expect(plan.changes.map((c) => [c.change, c.detail, c.op])).toEqual([
      ['none', 'already as declared', { kind: 'none' }],
    ]);
    // Nothing to change: an operator may apply it.
    expect(plan.roleIssues).toEqual([]);
  });

  it('updates every field that differs, naming each, and needs admin', () => {
    const current = deployment({
      version: '1.1.0',
      replicas: 5,
      peers: ['b'],
      overrides: { b: { group: 'edge' } },
      failback: false,
      rollout: { ...DEFAULT_DEPLOYMENT_ROLLOUT, health_timeout_sec: 60 },
      placement: { strategy: 'weighted' },
    });
    const plan = planManifest(manifest(WEB), state([current]), 'operator');
    expect(plan.changes.map((c) => [c.change, c.detail])).toEqual([
      [
        'update',
        'change version 1.1.0 → 1.0.0; replicas 5 → 3; peers [b] → [b, c]; placement; overrides; failback false → true; rollout',
      ],
    ]);
    expect(plan.changes[0]?.op).toMatchObject({ kind: 'update_deployment', id: 'fd-web' });
    expect(plan.roleIssues).toEqual([
      {
        path: 'federated_deployments.deployments[0]',
        message: 'update of web needs the admin role; the caller is operator',
      },
    ]);
  });

  it('deletes active deployments not declared only with prune: true, before the others', () => {
    const web = deployment();
    const old = deployment({ name: 'old' });
    expect(planManifest(manifest(WEB), state([web], [web, old]), 'admin').changes.map((c) => c.change)).toEqual([
      'none',
    ]);
    const pruned = planManifest(manifest(WEB, true), state([web], [web, old]), 'admin');
    expect(pruned.changes.map((c) => [c.path, c.target, c.change, c.op])).toEqual([
      ['federated_deployments', 'old', 'delete', { kind: 'delete_deployment', id: 'fd-old' }],
      ['federated_deployments.deployments[0]', 'web', 'none', { kind: 'none' }],
    ]);
  });

  it('accepts a version the manifest declares under modules, and refuses one that is nowhere', () => {
    const entry = WEB.replace('version: 1.0.0', 'version: 2.0.0');
    const nowhere = planManifest(manifest(entry), state([]), 'admin');
    expect(nowhere.issues).toEqual([
      {
        path: 'federated_deployments.deployments[0].version',
        message: 'nginx 2.0.0 is not on this platform and the manifest does not declare it under modules',
      },
    ]);
    const declared = parsed(`apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: nginx
    versions: [{ version: 2.0.0, digest: ${D1}, lifecycle_state: published }]
federated_deployments:
  deployments:
${entry}`);
    const plan = planManifest(declared, state([]), 'admin');
    expect(plan.issues).toEqual([]);
    expect(plan.changes.map((c) => [c.section, c.change])).toEqual([
      ['modules', 'create'],
      ['federated_deployments', 'create'],
    ]);
  });

  it('refuses unknown or repeated peers, keys naming no peer, a deleted name and a changed module, each by path', () => {
    const entries = `${WEB.replace('peers: [c, b]', 'peers: [c, nobody, pc]')}    - name: gone
      module_name: nginx
      version: 1.0.0
      replicas: 1
      group: web
      peers: [b]
      placement: { strategy: weighted, max: { x: 1 } }
      overrides: { y: { version: 1.1.0 } }
    - { name: moved, module_name: redis, version: 1.0.0, replicas: 1, group: web, peers: [b], placement: { strategy: weighted } }
    - { name: deleted, module_name: nginx, version: 1.0.0, replicas: 1, group: web, peers: [b], placement: { strategy: weighted } }
`;
    const plan = planManifest(
      manifest(entries),
      {
        ...state([deployment({ name: 'moved' }), deployment({ name: 'deleted', state: 'deleted' })]),
        versions: new Map([[moduleVersionKey('nginx', '1.0.0'), { digest: D1, lifecycleState: 'live' }]]),
      },
      'admin',
    );
    const at = (i: number): string => `federated_deployments.deployments[${i}]`;
    expect(plan.issues.map((i) => i.path)).toEqual([
      `${at(0)}.peers[1]`,
      `${at(0)}.peers[2]`,
      `${at(1)}.overrides.y`,
      `${at(1)}.placement.max.x`,
      `${at(2)}.version`,
      `${at(2)}.module_name`,
      `${at(3)}.name`,
    ]);
    expect(plan.issues[1]?.message).toBe('names pc, the peer of peers[0] too');
    expect(plan.issues[6]?.message).toBe(
      'federated deployment deleted was deleted and deleted deployments keep their names; declare it under another name',
    );
    expect(plan.changes).toEqual([]);
  });
});
