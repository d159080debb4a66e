// Declarative management (GitOps): the fleet manifest's schema (`apiVersion: flotilla/v1`, `kind: Fleet`),
// its parsing from YAML or JSON text with every error located by its path, and the plan that compares it
// with what a platform holds now. Pure: the caller loads the current state and applies the plan.
import { z } from 'zod';
import { safeText } from './text.js';
import { POLICY_MODES, ROLLING_UPGRADE_ACTION, type PolicyMode } from './approvals.js';
import {
  BOUNDARY_ACTIONS,
  BOUNDARY_DIRECTIONS,
  CAPABILITIES,
  MAX_BOUNDARY_PRIORITY,
  type BoundaryAction,
  type BoundaryDirection,
  type BoundaryRule,
  type Capability,
} from './capabilities.js';
import type { PeerStatus } from './federation.js';
import { checkLifecycleTransition, LIFECYCLE_STATES, nextLifecycleStates, type LifecycleState } from './lifecycle.js';
import {
  federatedDeploymentsSectionSchema,
  planDeployments,
  type DeploymentOp,
  type FederatedManifestState,
} from './manifest-deployments.js';
import { MANIFEST_LIMITS, readManifestText, runSteps, type Steps } from './manifest-yaml.js';
import { digestSchema, moduleNameSchema, versionSchema } from './names.js';
import { canonicalKinds, residencyPolicySchema, type ResidencyPolicy } from './residency.js';
import { roleAllows, type Role } from './roles.js';

export const MANIFEST_API_VERSION = 'flotilla/v1';
export const MANIFEST_KIND = 'Fleet';
/** The longest manifest text accepted, in characters (the other limits are in `MANIFEST_LIMITS`). */
export const MAX_MANIFEST_CHARS = MANIFEST_LIMITS.chars;

const versionEntrySchema = z.strictObject({
  version: versionSchema,
  digest: digestSchema,
  lifecycle_state: z.enum(LIFECYCLE_STATES),
});

const moduleEntrySchema = z.strictObject({
  module_name: moduleNameSchema,
  versions: z.array(versionEntrySchema).min(1, 'list at least one version').max(500),
});

const policyEntrySchema = z.strictObject({
  action: z.enum([ROLLING_UPGRADE_ACTION]),
  mode: z.enum(POLICY_MODES),
  four_eyes: z.boolean(),
});

const boundaryRuleEntrySchema = z.strictObject({
  direction: z.enum(BOUNDARY_DIRECTIONS).optional(),
  action: z.enum(BOUNDARY_ACTIONS),
  capability: z.enum(CAPABILITIES),
  priority: z.number().int().min(0).max(MAX_BOUNDARY_PRIORITY),
});

const peerEntrySchema = z.strictObject({
  /** The peer by id or name, as the tools take it. */
  federation_peer_id: safeText({ min: 1, max: 128 }),
  /** Absent: left alone; null: cleared; a policy: set. */
  data_residency: residencyPolicySchema.nullable().optional(),
  boundary_rules: z
    .strictObject({
      /** true: rules of this peer not in `rules` (by priority) are deleted. */
      prune: z.boolean().optional(),
      rules: z.array(boundaryRuleEntrySchema).max(1000),
    })
    .optional(),
});

export const manifestSchema = z
  .strictObject({
    apiVersion: z.literal(MANIFEST_API_VERSION),
    kind: z.literal(MANIFEST_KIND),
    modules: z.array(moduleEntrySchema).max(500).optional(),
    intervention_policies: z.array(policyEntrySchema).max(50).optional(),
    peers: z.array(peerEntrySchema).max(500).optional(),
    federated_deployments: federatedDeploymentsSectionSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const once = (seen: Set<string>, key: string, path: (string | number)[], what: string): void => {
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path, message: `${what} is declared more than once` });
      seen.add(key);
    };
    const modules = new Set<string>();
    m.modules?.forEach((mod, i) => {
      once(modules, mod.module_name, ['modules', i, 'module_name'], `module ${mod.module_name}`);
      const versions = new Set<string>();
      mod.versions.forEach((v, j) =>
        once(versions, v.version, ['modules', i, 'versions', j, 'version'], `${mod.module_name} ${v.version}`),
      );
    });
    const actions = new Set<string>();
    m.intervention_policies?.forEach((p, i) =>
      once(actions, p.action, ['intervention_policies', i, 'action'], `the policy for ${p.action}`),
    );
    const peers = new Set<string>();
    m.peers?.forEach((p, i) => {
      once(peers, p.federation_peer_id, ['peers', i, 'federation_peer_id'], `federation peer ${p.federation_peer_id}`);
      const priorities = new Set<string>();
      p.boundary_rules?.rules.forEach((r, j) =>
        once(
          priorities,
          String(r.priority),
          ['peers', i, 'boundary_rules', 'rules', j, 'priority'],
          `priority ${r.priority} of federation peer ${p.federation_peer_id}`,
        ),
      );
    });
    const deployments = new Set<string>();
    m.federated_deployments?.deployments.forEach((d, i) =>
      once(deployments, d.name, ['federated_deployments', 'deployments', i, 'name'], `federated deployment ${d.name}`),
    );
  });

export type Manifest = z.infer<typeof manifestSchema>;

/** One problem with a manifest, located by its path (`modules[1].versions[0].digest`). */
export interface ManifestIssue {
  path: string;
  message: string;
}

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; issues: ManifestIssue[] };

/** `['modules', 1, 'versions', 0, 'digest']` → `modules[1].versions[0].digest`; the root is `(manifest)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(manifest)' : out;
}

/** Parses manifest text (YAML, or JSON, which YAML reads too) within `MANIFEST_LIMITS` and checks it against the schema: every error. */
export function parseManifest(text: string): ManifestParse {
  return runSteps(parseManifestSteps(text));
}

/** `parseManifest`, pausing (yielding) between slices of the YAML parse so a server's event loop can run. */
export function* parseManifestSteps(text: string): Steps<ManifestParse> {
  const read = yield* readManifestText(text);
  if (!read.ok) return { ok: false, issues: read.issues };
  const raw = read.value;
  const issues: ManifestIssue[] = [];
  const parsed = manifestSchema.safeParse(raw ?? null);
  if (parsed.success && issues.length === 0) return { ok: true, manifest: parsed.data };
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) issues.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
      } else {
        issues.push({ path: formatPath(issue.path), message: issue.message });
      }
    }
  }
  return { ok: false, issues };
}

// ---- The plan: the manifest against what the platform holds now ----

/** What the platform holds now of what the manifest names. */
export interface ManifestState {
  /** Existing versions by `moduleVersionKey(module, version)`. */
  versions: ReadonlyMap<string, { digest: string; lifecycleState: LifecycleState }>;
  /** Stored intervention policies by action (absent: none stored, the default applies). */
  policies: ReadonlyMap<string, { mode: PolicyMode; fourEyes: boolean }>;
  /** Peers by the reference the manifest gives; null when there is no such peer. */
  peers: ReadonlyMap<string, PeerManifestState | null>;
  /** Of the federated deployments section: the deployments it names, the active ones, their peers. */
  federated: FederatedManifestState;
}

export interface PeerManifestState {
  id: string;
  name: string;
  status: PeerStatus;
  residency: ResidencyPolicy | null;
  /** Its ingress rules. */
  rules: readonly BoundaryRule[];
}

export function moduleVersionKey(moduleName: string, version: string): string {
  return `${moduleName}\u0000${version}`;
}

export const MANIFEST_SECTIONS = [
  'modules',
  'intervention_policies',
  'data_residency',
  'boundary_rules',
  'federated_deployments',
] as const;
export type ManifestSection = (typeof MANIFEST_SECTIONS)[number];
export type ManifestChangeKind = 'create' | 'update' | 'delete' | 'none';

/** What applying one change takes, through the services. */
export type ManifestOp =
  | { kind: 'none' }
  | { kind: 'publish'; moduleName: string; version: string; digest: string; draft: boolean; steps: LifecycleState[] }
  | { kind: 'promote'; moduleName: string; version: string; steps: LifecycleState[] }
  | { kind: 'set_policy'; action: string; mode: PolicyMode; fourEyes: boolean }
  | { kind: 'set_residency'; peerId: string; policy: ResidencyPolicy | null }
  | { kind: 'create_rule'; peerId: string; rule: ManifestRule }
  | { kind: 'replace_rule'; peerId: string; ruleId: string; rule: ManifestRule }
  | { kind: 'delete_rule'; ruleId: string }
  | DeploymentOp;

export interface ManifestRule {
  direction: BoundaryDirection;
  action: BoundaryAction;
  capability: Capability;
  priority: number;
}

export interface ManifestChange {
  section: ManifestSection;
  /** Where the item is in the manifest (the section, for a pruned rule). */
  path: string;
  /** What the item is: `nginx 1.26.0`, `system.fleet_rolling_upgrade`, `peer-b priority 10`. */
  target: string;
  change: ManifestChangeKind;
  /** What would be done, or why nothing would. */
  detail: string;
  /** The least role the change needs. */
  role: Role;
  op: ManifestOp;
}

export interface ManifestPlan {
  changes: ManifestChange[];
  /** Problems that refuse the whole manifest (nothing is applied). */
  issues: ManifestIssue[];
  /** Changes the caller's role may not make (checked only when a role is given). */
  roleIssues: ManifestIssue[];
}

/** The shortest legal lifecycle path from `from` to `to` (the states after `from`), or null when there is none. */
export function lifecyclePath(from: LifecycleState, to: LifecycleState): LifecycleState[] | null {
  if (from === to) return [];
  const previous = new Map<LifecycleState, LifecycleState>();
  const queue: LifecycleState[] = [from];
  while (queue.length > 0) {
    const state = queue.shift()!;
    for (const next of nextLifecycleStates(state)) {
      if (next === from || previous.has(next)) continue;
      previous.set(next, state);
      if (next === to) {
        const path: LifecycleState[] = [to];
        for (let s = state; s !== from; s = previous.get(s)!) path.unshift(s);
        return path;
      }
      queue.push(next);
    }
  }
  return null;
}

/** The least role a walk along `steps` from `from` needs. */
function pathRole(from: LifecycleState, steps: readonly LifecycleState[]): Role {
  let role: Role = 'operator';
  let at = from;
  for (const step of steps) {
    const check = checkLifecycleTransition(at, step);
    if (check.ok && check.requiredRole === 'admin') role = 'admin';
    at = step;
  }
  return role;
}

/** What publishing a new version in `target` state takes: the state it is published in, then the steps. */
function publishSteps(target: LifecycleState): { draft: boolean; steps: LifecycleState[] } {
  if (target === 'draft') return { draft: true, steps: [] };
  return { draft: false, steps: lifecyclePath('published', target)! };
}

function sameResidency(a: ResidencyPolicy, b: ResidencyPolicy): boolean {
  const ka = canonicalKinds(a.resource_kinds);
  const kb = canonicalKinds(b.resource_kinds);
  return (
    a.constraint === b.constraint &&
    a.region === b.region &&
    ka.length === kb.length &&
    ka.every((kind, i) => kind === kb[i])
  );
}

function describeResidency(p: ResidencyPolicy): string {
  return `${canonicalKinds(p.resource_kinds).join(', ')} ${p.constraint} ${p.region}`;
}

/**
 * Compares the manifest with the current state: one change per item (create, update, delete or none),
 * and the problems that refuse it all (unknown or revoked peers, immutable digests, impossible lifecycle
 * moves, and with `callerRole` given, changes the caller's role may not make).
 */
export function planManifest(manifest: Manifest, state: ManifestState, callerRole: Role | null): ManifestPlan {
  const changes: ManifestChange[] = [];
  const issues: ManifestIssue[] = [];

  manifest.modules?.forEach((mod, i) => {
    mod.versions.forEach((v, j) => {
      const path = `modules[${i}].versions[${j}]`;
      const target = `${mod.module_name} ${v.version}`;
      const existing = state.versions.get(moduleVersionKey(mod.module_name, v.version));
      if (existing === undefined) {
        const { draft, steps } = publishSteps(v.lifecycle_state);
        const walk = steps.length === 0 ? '' : `, then ${['published', ...steps].join(' → ')}`;
        changes.push({
          section: 'modules',
          path,
          target,
          change: 'create',
          detail: `publish ${v.digest} as ${draft ? 'draft' : 'published'}${walk}`,
          role: 'operator',
          op: { kind: 'publish', moduleName: mod.module_name, version: v.version, digest: v.digest, draft, steps },
        });
        return;
      }
      if (existing.digest !== v.digest) {
        issues.push({
          path: `${path}.digest`,
          message: `${target} is already published with digest ${existing.digest}; versions are immutable, publish the new build under a new version`,
        });
        return;
      }
      const steps = lifecyclePath(existing.lifecycleState, v.lifecycle_state);
      if (steps === null) {
        issues.push({
          path: `${path}.lifecycle_state`,
          message: `${target} is ${existing.lifecycleState} and cannot go back to ${v.lifecycle_state}`,
        });
        return;
      }
      changes.push({
        section: 'modules',
        path,
        target,
        change: steps.length === 0 ? 'none' : 'update',
        detail:
          steps.length === 0
            ? `already ${existing.lifecycleState}`
            : `promote ${[existing.lifecycleState, ...steps].join(' → ')}`,
        role: pathRole(existing.lifecycleState, steps),
        op:
          steps.length === 0
            ? { kind: 'none' }
            : { kind: 'promote', moduleName: mod.module_name, version: v.version, steps },
      });
    });
  });

  manifest.intervention_policies?.forEach((p, i) => {
    const stored = state.policies.get(p.action);
    const wanted = `${p.mode}, four_eyes ${p.four_eyes}`;
    const same = stored !== undefined && stored.mode === p.mode && stored.fourEyes === p.four_eyes;
    changes.push({
      section: 'intervention_policies',
      path: `intervention_policies[${i}]`,
      target: p.action,
      change: same ? 'none' : stored === undefined ? 'create' : 'update',
      detail: same
        ? `already ${wanted}`
        : stored === undefined
          ? `set ${wanted}`
          : `set ${wanted} (was ${stored.mode}, four_eyes ${stored.fourEyes})`,
      role: 'admin',
      op: same ? { kind: 'none' } : { kind: 'set_policy', action: p.action, mode: p.mode, fourEyes: p.four_eyes },
    });
  });

  const peersSeen = new Map<string, number>();
  manifest.peers?.forEach((entry, i) => {
    const ref = entry.federation_peer_id;
    const peer = state.peers.get(ref) ?? null;
    if (peer === null) {
      issues.push({
        path: `peers[${i}].federation_peer_id`,
        message: `no federation peer ${ref} (list_federation_peers shows peers by id and name)`,
      });
      return;
    }
    const earlier = peersSeen.get(peer.id);
    if (earlier !== undefined) {
      issues.push({
        path: `peers[${i}].federation_peer_id`,
        message: `federation peer ${ref} is the peer of peers[${earlier}] too; declare each peer once`,
      });
      return;
    }
    peersSeen.set(peer.id, i);
    if (peer.status === 'revoked') {
      issues.push({
        path: `peers[${i}].federation_peer_id`,
        message: `federation peer ${ref} is revoked; its residency and boundary can no longer be managed`,
      });
      return;
    }
    if (entry.data_residency !== undefined) {
      const wanted = entry.data_residency;
      const current = peer.residency;
      const path = `peers[${i}].data_residency`;
      const base = { section: 'data_residency' as const, path, target: ref, role: 'admin' as const };
      if (wanted === null) {
        changes.push(
          current === null
            ? { ...base, change: 'none', detail: 'no policy, as declared', op: { kind: 'none' } }
            : {
                ...base,
                change: 'delete',
                detail: `clear ${describeResidency(current)}`,
                op: { kind: 'set_residency', peerId: peer.id, policy: null },
              },
        );
      } else if (current !== null && sameResidency(current, wanted)) {
        changes.push({
          ...base,
          change: 'none',
          detail: `already ${describeResidency(current)}`,
          op: { kind: 'none' },
        });
      } else {
        changes.push({
          ...base,
          change: current === null ? 'create' : 'update',
          detail:
            current === null
              ? `set ${describeResidency(wanted)}`
              : `set ${describeResidency(wanted)} (was ${describeResidency(current)})`,
          op: { kind: 'set_residency', peerId: peer.id, policy: wanted },
        });
      }
    }
    const section = entry.boundary_rules;
    if (section === undefined) return;
    const byPriority = new Map(peer.rules.map((r) => [r.priority, r]));
    const declared = new Set(section.rules.map((r) => r.priority));
    if (section.prune === true) {
      for (const rule of peer.rules) {
        if (declared.has(rule.priority)) continue;
        changes.push({
          section: 'boundary_rules',
          path: `peers[${i}].boundary_rules`,
          target: `${ref} priority ${rule.priority}`,
          change: 'delete',
          detail: `delete ${rule.action} ${rule.capability} (prune: true)`,
          role: 'admin',
          op: { kind: 'delete_rule', ruleId: rule.id },
        });
      }
    }
    section.rules.forEach((r, j) => {
      const rule: ManifestRule = {
        direction: r.direction ?? 'ingress',
        action: r.action,
        capability: r.capability,
        priority: r.priority,
      };
      const existing = byPriority.get(r.priority);
      const base = {
        section: 'boundary_rules' as const,
        path: `peers[${i}].boundary_rules.rules[${j}]`,
        target: `${ref} priority ${r.priority}`,
        role: 'admin' as const,
      };
      if (existing === undefined) {
        changes.push({
          ...base,
          change: 'create',
          detail: `${rule.direction} ${rule.action} ${rule.capability}`,
          op: { kind: 'create_rule', peerId: peer.id, rule },
        });
      } else if (existing.action === rule.action && existing.capability === rule.capability) {
        changes.push({
          ...base,
          change: 'none',
          detail: `already ${rule.action} ${rule.capability}`,
          op: { kind: 'none' },
        });
      } else {
        changes.push({
          ...base,
          change: 'update',
          detail: `replace ${existing.action} ${existing.capability} with ${rule.action} ${rule.capability}`,
          op: { kind: 'replace_rule', peerId: peer.id, ruleId: existing.id, rule },
        });
      }
    });
  });

  if (manifest.federated_deployments !== undefined) {
    const declared = new Set(
      (manifest.modules ?? []).flatMap((mod) => mod.versions.map((v) => moduleVersionKey(mod.module_name, v.version))),
    );
    const section = planDeployments(manifest.federated_deployments, state.federated, (moduleName, version) => {
      const key = moduleVersionKey(moduleName, version);
      return state.versions.has(key) || declared.has(key);
    });
    changes.push(...section.changes);
    issues.push(...section.issues);
  }

  const roleIssues: ManifestIssue[] = [];
  if (callerRole !== null) {
    for (const change of changes) {
      if (change.change !== 'none' && !roleAllows(callerRole, change.role)) {
        roleIssues.push({
          path: change.path,
          message: `${change.change} of ${change.target} needs the ${change.role} role; the caller is ${callerRole}`,
        });
      }
    }
  }
  return { changes, issues, roleIssues };
}

/** Counts of changes by kind. */
export function countChanges(changes: readonly ManifestChange[]): Record<ManifestChangeKind, number> {
  const counts = { create: 0, update: 0, delete: 0, none: 0 };
  for (const c of changes) counts[c.change] += 1;
  return counts;
}
