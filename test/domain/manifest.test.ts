// The fleet manifest as pure functions: its schema (YAML or JSON, strict), every error located by its
// path, and the plan that compares it with a platform's state (lifecycle walks, digests, peers, prune).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BoundaryRule } from '../../src/domain/capabilities.js';
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

const EMPTY: ManifestState = { versions: new Map(), policies: new Map(), peers: new Map() };

describe('parseManifest', () => {
  it('reads the shipped example', () => {
    const manifest = parsed(fs.readFileSync(new URL('../../examples/fleet.yaml', import.meta.url), 'utf8'));
    expect(manifest.modules?.[0]?.versions).toHaveLength(5);
    expect(manifest.intervention_policies).toEqual([
      { action: 'system.fleet_rolling_upgrade', mode: 'require_approval', four_eyes: true },
    ]);
    expect(manifest.peers?.[0]?.boundary_rules?.rules).toHaveLength(2);
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
`;
    expect(issues(text).map((i) => i.path)).toEqual([
      'modules[0].versions[1].version',
      'modules[1].module_name',
      'peers[0].boundary_rules.rules[1].priority',
    ]);
  });

  it('refuses federated deployments as not supported yet, alongside the other errors', () => {
    const found = issues('apiVersion: flotilla/v1\nkind: Fleet\nfederated_deployments: []\nmodules: 3\n');
    expect(found).toEqual([
      { path: 'federated_deployments', message: expect.stringContaining('not supported in manifests yet') },
      { path: 'modules', message: expect.any(String) },
    ]);
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
