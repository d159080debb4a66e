// The manifest's `federated_deployments` section: its schema (fields named as create_federated_deployment
// takes them) and its part of the plan, each deployment compared by name with the platform's, normalized
// (include_local false, overrides {}, failback true, the default rollout). Pure: no I/O.
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { safeText } from './text.js';
import {
  deploymentRolloutOf,
  deploymentRolloutSchema,
  overridesSchema,
  type DeploymentRollout,
  type FederatedDeployment,
  type ShareOverrides,
} from './federated-deployment.js';
import type { PeerStatus } from './federation.js';
import type { ManifestChange, ManifestIssue } from './manifest.js';
import { groupNameSchema, moduleNameSchema, versionSchema } from './names.js';
import { MAX_REPLICAS, placementPolicySchema, type PlacementPolicy } from './placement.js';
import { strategyProblem } from './strategy.js';

export const deploymentEntrySchema = z
  .strictObject({
    name: safeText({ min: 1, max: 200 }),
    module_name: moduleNameSchema,
    /** A version string of the module (not an id), compared as is with the deployment's. */
    version: versionSchema,
    replicas: z.number().int().min(0).max(MAX_REPLICAS),
    group: groupNameSchema,
    /** Peers by id or name; compared as a set of names. */
    peers: z.array(safeText({ min: 1, max: 200 })).max(500),
    include_local: z.boolean().optional(),
    placement: placementPolicySchema,
    overrides: overridesSchema.optional(),
    failback: z.boolean().optional(),
    rollout: deploymentRolloutSchema.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.peers.length === 0 && d.include_local !== true) {
      ctx.addIssue({ code: 'custom', path: ['peers'], message: 'name at least one peer, or set include_local: true' });
    }
    const p = d.placement;
    if (p.weights !== undefined && p.strategy !== 'weighted') {
      ctx.addIssue({
        code: 'custom',
        path: ['placement', 'weights'],
        message: `weights apply to the weighted strategy, not ${p.strategy}`,
      });
    }
    if (p.strategy === 'geo_affinity' && p.regions === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['placement', 'regions'],
        message: 'the geo_affinity strategy needs regions, best first',
      });
    }
    if (p.regions !== undefined && p.strategy !== 'geo_affinity') {
      ctx.addIssue({
        code: 'custom',
        path: ['placement', 'regions'],
        message: `regions apply to the geo_affinity strategy, not ${p.strategy}`,
      });
    }
    for (const [key, min] of Object.entries(p.min ?? {})) {
      const max = p.max?.[key];
      if (max !== undefined && min > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['placement', 'min', key],
          message: `min for ${key} (${min}) is above its max (${max})`,
        });
      }
    }
    const problem = d.rollout?.strategy === undefined ? null : strategyProblem(d.rollout.strategy);
    if (problem !== null) ctx.addIssue({ code: 'custom', path: ['rollout', 'strategy'], message: problem });
  });

export const federatedDeploymentsSectionSchema = z.strictObject({
  /** true: active deployments of this platform not in `deployments` (by name) are deleted. */
  prune: z.boolean().optional(),
  deployments: z.array(deploymentEntrySchema).max(500),
});

export type FederatedDeploymentsSection = z.infer<typeof federatedDeploymentsSectionSchema>;
type DeploymentEntry = z.infer<typeof deploymentEntrySchema>;

/** What the platform holds of the section: deployments by declared name, the peers they name. */
export interface FederatedManifestState {
  /** By the name the manifest gives; null when no deployment has it (deleted ones keep theirs). */
  deployments: ReadonlyMap<string, FederatedDeployment | null>;
  /** Active deployments; loaded only when the section prunes. */
  active: readonly FederatedDeployment[];
  /** Peers by the reference a deployment gives; null when there is no such peer. */
  peers: ReadonlyMap<string, { id: string; name: string; status: PeerStatus } | null>;
}

/** A deployment as the manifest declares it, normalized, in the service's terms. */
export interface DeclaredDeployment {
  version: string;
  replicas: number;
  group: string;
  /** As the manifest gives them (ids or names). */
  peers: string[];
  includeLocal: boolean;
  placement: PlacementPolicy;
  overrides: ShareOverrides;
  failback: boolean;
  rollout: DeploymentRollout;
}

export type DeploymentOp =
  | { kind: 'create_deployment'; name: string; moduleName: string; spec: DeclaredDeployment }
  | { kind: 'update_deployment'; id: string; spec: DeclaredDeployment }
  | { kind: 'delete_deployment'; id: string };

/** JSON equality: key order and undefined fields do not count. */
function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
}

/** Overrides without empty entries (`{ peer: {} }` overrides nothing). */
function normalOverrides(o: ShareOverrides): ShareOverrides {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v.version !== undefined || v.group !== undefined),
  ) as ShareOverrides;
}

function declare(d: DeploymentEntry): DeclaredDeployment {
  return {
    version: d.version,
    replicas: d.replicas,
    group: d.group,
    peers: [...d.peers],
    includeLocal: d.include_local ?? false,
    placement: d.placement,
    overrides: d.overrides ?? {},
    failback: d.failback ?? true,
    rollout: deploymentRolloutOf(d.rollout),
  };
}

/** What differs between the platform's deployment and the declared one, one phrase per field. */
function differences(current: FederatedDeployment, wanted: DeclaredDeployment, peerNames: string[]): string[] {
  const out: string[] = [];
  const scalar = (field: string, from: unknown, to: unknown): void => {
    if (from !== to) out.push(`${field} ${String(from)} → ${String(to)}`);
  };
  scalar('version', current.version, wanted.version);
  scalar('replicas', current.replicas, wanted.replicas);
  scalar('group', current.groupName, wanted.group);
  const before = [...current.peers].sort();
  const after = [...peerNames].sort();
  if (!isDeepStrictEqual(before, after)) out.push(`peers [${before.join(', ')}] → [${after.join(', ')}]`);
  scalar('include_local', current.includeLocal, wanted.includeLocal);
  if (!sameJson(current.placement, wanted.placement)) out.push('placement');
  if (!sameJson(normalOverrides(current.overrides), normalOverrides(wanted.overrides))) out.push('overrides');
  scalar('failback', current.failback, wanted.failback);
  if (!sameJson(current.rollout, wanted.rollout)) out.push('rollout');
  return out;
}

function describeSpec(moduleName: string, s: DeclaredDeployment, peerNames: string[]): string {
  const over = [...peerNames, ...(s.includeLocal ? ['this platform'] : [])].join(', ');
  return `place ${s.replicas} × ${moduleName} ${s.version} (group ${s.group}) over ${over}, ${s.placement.strategy}`;
}

/**
 * The section's changes (prune deletes first, then each deployment in manifest order) and the problems
 * that refuse the manifest: unknown peers, a peer named twice, a version neither here nor declared,
 * overrides naming no listed peer, a changed module, a name a deleted deployment keeps.
 */
export function planDeployments(
  section: FederatedDeploymentsSection,
  state: FederatedManifestState,
  /** Whether the module has the version here, or the manifest's modules section declares it. */
  hasVersion: (moduleName: string, version: string) => boolean,
): { changes: ManifestChange[]; issues: ManifestIssue[] } {
  const changes: ManifestChange[] = [];
  const issues: ManifestIssue[] = [];
  const base = { section: 'federated_deployments' as const, role: 'admin' as const };
  const declaredNames = new Set(section.deployments.map((d) => d.name));

  if (section.prune === true) {
    for (const d of state.active) {
      if (declaredNames.has(d.name)) continue;
      changes.push({
        ...base,
        path: 'federated_deployments',
        target: d.name,
        change: 'delete',
        detail: 'delete (prune: true); stops reconciling it, what its shares assigned stays assigned',
        op: { kind: 'delete_deployment', id: d.id },
      });
    }
  }

  section.deployments.forEach((entry, i) => {
    const path = `federated_deployments.deployments[${i}]`;
    const before = issues.length;
    const peerNames: string[] = [];
    const seen = new Map<string, number>();
    entry.peers.forEach((ref, j) => {
      const peer = state.peers.get(ref) ?? null;
      if (peer === null) {
        issues.push({
          path: `${path}.peers[${j}]`,
          message: `no federation peer ${ref} (list_federation_peers shows peers by id and name)`,
        });
        return;
      }
      const earlier = seen.get(peer.id);
      if (earlier !== undefined) {
        issues.push({ path: `${path}.peers[${j}]`, message: `names ${ref}, the peer of peers[${earlier}] too` });
        return;
      }
      seen.set(peer.id, j);
      peerNames.push(peer.name);
    });
    if (!hasVersion(entry.module_name, entry.version)) {
      issues.push({
        path: `${path}.version`,
        message: `${entry.module_name} ${entry.version} is not on this platform and the manifest does not declare it under modules`,
      });
    }
    // With include_local a key may be this platform's own name, which the service checks; with an unknown
    // peer, a key naming it would only repeat that error.
    if (entry.include_local !== true && entry.peers.every((ref) => state.peers.get(ref) != null)) {
      const known = new Set(
        entry.peers.flatMap((ref) => {
          const peer = state.peers.get(ref);
          return peer == null ? [ref] : [ref, peer.id, peer.name];
        }),
      );
      for (const key of Object.keys(entry.overrides ?? {})) {
        if (!known.has(key)) {
          issues.push({ path: `${path}.overrides.${key}`, message: `${key} is not one of this deployment's peers` });
        }
      }
      for (const field of ['weights', 'min', 'max'] as const) {
        for (const key of Object.keys(entry.placement[field] ?? {})) {
          if (!known.has(key)) {
            issues.push({
              path: `${path}.placement.${field}.${key}`,
              message: `${key} is not one of this deployment's peers`,
            });
          }
        }
      }
    }
    const current = state.deployments.get(entry.name) ?? null;
    if (current !== null && current.state === 'deleted') {
      issues.push({
        path: `${path}.name`,
        message: `federated deployment ${entry.name} was deleted and deleted deployments keep their names; declare it under another name`,
      });
    } else if (current !== null && current.moduleName !== entry.module_name) {
      issues.push({
        path: `${path}.module_name`,
        message: `federated deployment ${entry.name} deploys ${current.moduleName}; a deployment's module cannot change, declare ${entry.module_name} under another name`,
      });
    }
    if (issues.length > before) return;

    const spec = declare(entry);
    const target = entry.name;
    if (current === null) {
      changes.push({
        ...base,
        path,
        target,
        change: 'create',
        detail: describeSpec(entry.module_name, spec, peerNames),
        op: { kind: 'create_deployment', name: entry.name, moduleName: entry.module_name, spec },
      });
      return;
    }
    const diff = differences(current, spec, peerNames);
    changes.push(
      diff.length === 0
        ? { ...base, path, target, change: 'none', detail: 'already as declared', op: { kind: 'none' } }
        : {
            ...base,
            path,
            target,
            change: 'update',
            detail: `change ${diff.join('; ')}`,
            op: { kind: 'update_deployment', id: current.id, spec },
          },
    );
  });
  return { changes, issues };
}
