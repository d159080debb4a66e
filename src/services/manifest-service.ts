// Declarative management: diff and apply a fleet manifest. Loads what the manifest names, plans with the
// pure planManifest, refuses the whole manifest on any problem (each located by its path), and applies
// the changes through the owning services as the calling operator, so their roles and audits hold.
import type { PolicyMode } from '../domain/approvals.js';
import type { FederationPeer } from '../domain/federation.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import {
  countChanges,
  moduleVersionKey,
  parseManifest,
  planManifest,
  type Manifest,
  type ManifestChange,
  type ManifestIssue,
  type ManifestState,
  type PeerManifestState,
} from '../domain/manifest.js';
import { isUuid } from '../domain/names.js';
import type { Caller } from '../domain/roles.js';
import { FlotillaError, ForbiddenError, InvalidInputError } from '../errors.js';
import { findPolicy } from '../store/approvals-repository.js';
import { listBoundaryRules } from '../store/boundary-rules-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findPeerById, findPeerByName } from '../store/peers-repository.js';
import { findResidencyPolicy } from '../store/residency-repository.js';
import type { BoundaryService } from './boundary-service.js';
import type { ServiceDeps } from './context.js';
import type { ModulesService } from './modules-service.js';
import type { PoliciesService } from './policies-service.js';
import type { ResidencyService } from './residency-service.js';

export interface ManifestResult {
  /** Every item of the manifest with its change (`none` included), in manifest order. */
  changes: ManifestChange[];
  counts: ReturnType<typeof countChanges>;
  /** True when nothing would change (diff) or nothing did (apply). */
  upToDate: boolean;
}

const INVALID_HINT = 'fix every error listed (each is located by its path in the manifest); nothing was applied';

function issuesText(issues: readonly ManifestIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}

export class ManifestService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly services: {
      modules: ModulesService;
      policies: PoliciesService;
      residency: ResidencyService;
      boundary: BoundaryService;
    },
  ) {}

  /** What applying the manifest would change; writes nothing. */
  async diff(text: string): Promise<ManifestResult> {
    const manifest = this.parse(text);
    const plan = planManifest(manifest, await this.load(manifest), null);
    if (plan.issues.length > 0) throw invalid(plan.issues);
    return result(plan.changes);
  }

  /**
   * Validates everything first (schema, peers, digests, lifecycle moves, the caller's role for each
   * change), then applies the changes in manifest order; a change that fails after validation (a
   * concurrent edit) stops the apply and the error says which changes were applied before it.
   */
  async apply(caller: Caller, text: string): Promise<ManifestResult> {
    const manifest = this.parse(text);
    const plan = planManifest(manifest, await this.load(manifest), caller.role);
    if (plan.issues.length > 0) throw invalid([...plan.issues, ...plan.roleIssues]);
    if (plan.roleIssues.length > 0) {
      throw new ForbiddenError(`the manifest needs more than the ${caller.role} role: ${issuesText(plan.roleIssues)}`, {
        hint: 'ask an admin to apply it, or leave the admin-only sections out; nothing was applied',
        details: { errors: plan.roleIssues },
      });
    }
    const applied: ManifestChange[] = [];
    for (const change of plan.changes) {
      if (change.op.kind === 'none') continue;
      try {
        await this.applyOne(caller, change);
      } catch (err) {
        if (!(err instanceof FlotillaError) || applied.length === 0) throw err;
        throw new FlotillaError(
          err.code,
          `apply stopped at ${change.path} (${change.target}) after ${applied.length} change(s): ${err.message}`,
          {
            hint: 'the platform changed meanwhile; run diff_manifest and apply again',
            details: { applied: applied.map((c) => c.path), failed_at: change.path },
            cause: err,
          },
        );
      }
      applied.push(change);
    }
    return result(plan.changes);
  }

  private parse(text: string): Manifest {
    const parsed = parseManifest(text);
    if (!parsed.ok) throw invalid(parsed.issues);
    return parsed.manifest;
  }

  private async applyOne(caller: Caller, change: ManifestChange): Promise<void> {
    const op = change.op;
    const { modules, policies, residency, boundary } = this.services;
    switch (op.kind) {
      case 'none':
        return;
      case 'publish':
      case 'promote': {
        if (op.kind === 'publish') {
          await modules.publish(caller, {
            moduleName: op.moduleName,
            version: op.version,
            digest: op.digest,
            draft: op.draft,
          });
        }
        for (const to of op.steps) {
          await modules.promote(caller, { versionRef: op.version, module: { moduleName: op.moduleName }, to });
        }
        return;
      }
      case 'set_policy':
        await policies.set(caller, { action: op.action, mode: op.mode, fourEyes: op.fourEyes });
        return;
      case 'set_residency':
        await residency.set(caller, op.peerId, op.policy);
        return;
      case 'delete_rule':
        await boundary.delete(caller, op.ruleId);
        return;
      case 'replace_rule':
        await boundary.delete(caller, op.ruleId);
        await boundary.create(caller, { peerRef: op.peerId, ...op.rule });
        return;
      case 'create_rule':
        await boundary.create(caller, { peerRef: op.peerId, ...op.rule });
        return;
    }
  }

  /** What the platform holds now of everything the manifest names. */
  private async load(manifest: Manifest): Promise<ManifestState> {
    const db = this.deps.db;
    const versions = new Map<string, { digest: string; lifecycleState: LifecycleState }>();
    for (const mod of manifest.modules ?? []) {
      const module = await findModule(db, { name: mod.module_name });
      if (module === null) continue;
      for (const v of mod.versions) {
        const found = await findVersion(db, { moduleId: module.id, version: v.version });
        if (found !== null) {
          versions.set(moduleVersionKey(mod.module_name, v.version), {
            digest: found.digest,
            lifecycleState: found.lifecycleState,
          });
        }
      }
    }
    const policies = new Map<string, { mode: PolicyMode; fourEyes: boolean }>();
    for (const p of manifest.intervention_policies ?? []) {
      const stored = await findPolicy(db, p.action);
      if (stored !== null) policies.set(p.action, { mode: stored.mode, fourEyes: stored.fourEyes });
    }
    const peers = new Map<string, PeerManifestState | null>();
    for (const entry of manifest.peers ?? []) {
      const ref = entry.federation_peer_id;
      const peer: FederationPeer | null = isUuid(ref) ? await findPeerById(db, ref) : await findPeerByName(db, ref);
      if (peer === null) {
        peers.set(ref, null);
        continue;
      }
      const policy = await findResidencyPolicy(db, peer.id);
      peers.set(ref, {
        id: peer.id,
        name: peer.name,
        status: peer.status,
        residency: policy?.policy ?? null,
        rules: await listBoundaryRules(db, peer.id, 'ingress'),
      });
    }
    return { versions, policies, peers };
  }
}

function invalid(issues: readonly ManifestIssue[]): InvalidInputError {
  return new InvalidInputError(
    `the manifest is invalid (${issues.length} error${issues.length === 1 ? '' : 's'}): ${issuesText(issues)}`,
    { hint: INVALID_HINT, details: { errors: issues } },
  );
}

function result(changes: ManifestChange[]): ManifestResult {
  const counts = countChanges(changes);
  return { changes, counts, upToDate: counts.create + counts.update + counts.delete === 0 };
}
