// Declarative management: diff and apply a fleet manifest. Loads what the manifest names, plans with the
// pure planManifest, refuses the whole manifest on any problem (each located by its path), and applies
// the changes through the owning services as the calling operator, so their roles and audits hold.
// Reads come from the store; every write goes through a service.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PolicyMode } from '../domain/approvals.js';
import type { FederatedDeployment } from '../domain/federated-deployment.js';
import type { FederationPeer } from '../domain/federation.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import {
  countChanges,
  moduleVersionKey,
  parseManifestSteps,
  planManifest,
  type Manifest,
  type ManifestChange,
  type ManifestIssue,
  type ManifestState,
  type PeerManifestState,
} from '../domain/manifest.js';
import { isUuid } from '../domain/names.js';
import type { Caller } from '../domain/roles.js';
import { FlotillaError, ForbiddenError, InvalidInputError, UnavailableError } from '../errors.js';
import { findPolicy } from '../store/approvals-repository.js';
import { listBoundaryRules } from '../store/boundary-rules-repository.js';
import { findFederatedDeployment, listFederatedDeployments } from '../store/federated-deployments-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findPeerById, findPeerByName } from '../store/peers-repository.js';
import { findResidencyPolicy } from '../store/residency-repository.js';
import type { BoundaryService } from './boundary-service.js';
import type { ServiceDeps } from './context.js';
import type { FederatedDeploymentsService } from './federated-deployments-service.js';
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

/** Active deployments read per page when a manifest prunes them. */
const PRUNE_PAGE = 500;

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
      /** Needed only to apply a `federated_deployments` section. */
      federatedDeployments?: Pick<FederatedDeploymentsService, 'create' | 'update' | 'delete'>;
    },
  ) {}

  /** What applying the manifest would change; writes nothing. */
  async diff(text: string): Promise<ManifestResult> {
    const manifest = await this.parse(text);
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
    const manifest = await this.parse(text);
    const plan = planManifest(manifest, await this.load(manifest), caller.role);
    if (plan.issues.length > 0) throw invalid([...plan.issues, ...plan.roleIssues]);
    if (plan.roleIssues.length > 0) {
      throw new ForbiddenError(`the manifest needs more than the ${caller.role} role: ${issuesText(plan.roleIssues)}`, {
        hint: 'ask an admin to apply it, or leave the admin-only sections out; nothing was applied',
        details: { errors: plan.roleIssues },
      });
    }
    const deploymentWrites = plan.changes.some((c) => c.section === 'federated_deployments' && c.change !== 'none');
    if (deploymentWrites && this.services.federatedDeployments === undefined) {
      throw new UnavailableError('this platform cannot apply federated deployments from a manifest', {
        hint: 'the manifest service was built without the federated deployments service; nothing was applied',
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

  /** Parses the manifest, letting the event loop run between slices of the YAML parse (other calls go on). */
  private async parse(text: string): Promise<Manifest> {
    const steps = parseManifestSteps(text);
    let step = steps.next();
    while (step.done !== true) {
      await nextTurn();
      step = steps.next();
    }
    const parsed = step.value;
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
      case 'create_deployment':
        await this.services.federatedDeployments!.create(caller, {
          name: op.name,
          moduleName: op.moduleName,
          ...op.spec,
        });
        return;
      case 'update_deployment':
        await this.services.federatedDeployments!.update(caller, op.id, op.spec);
        return;
      case 'delete_deployment':
        await this.services.federatedDeployments!.delete(caller, op.id);
        return;
    }
  }

  /** What the platform holds now of everything the manifest names. */
  private async load(manifest: Manifest): Promise<ManifestState> {
    const db = this.deps.db;
    const versions = new Map<string, { digest: string; lifecycleState: LifecycleState }>();
    for (const mod of manifest.modules ?? []) {
      // PGlite answers in the same thread without an I/O turn: let the event loop run between modules.
      await nextTurn();
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
    return { versions, policies, peers, federated: await this.loadDeployments(manifest, versions) };
  }

  /** The deployments the manifest names, the active ones when it prunes, the peers they name, their versions. */
  private async loadDeployments(
    manifest: Manifest,
    versions: Map<string, { digest: string; lifecycleState: LifecycleState }>,
  ): Promise<ManifestState['federated']> {
    const db = this.deps.db;
    const section = manifest.federated_deployments;
    const deployments = new Map<string, FederatedDeployment | null>();
    const peers = new Map<string, { id: string; name: string; status: FederationPeer['status'] } | null>();
    const active: FederatedDeployment[] = [];
    for (const d of section?.deployments ?? []) {
      deployments.set(d.name, await findFederatedDeployment(db, { name: d.name }));
      const key = moduleVersionKey(d.module_name, d.version);
      if (!versions.has(key)) {
        const module = await findModule(db, { name: d.module_name });
        const found = module === null ? null : await findVersion(db, { moduleId: module.id, version: d.version });
        if (found !== null) versions.set(key, { digest: found.digest, lifecycleState: found.lifecycleState });
      }
      for (const ref of d.peers) {
        if (peers.has(ref)) continue;
        const peer = isUuid(ref) ? await findPeerById(db, ref) : await findPeerByName(db, ref);
        peers.set(ref, peer === null ? null : { id: peer.id, name: peer.name, status: peer.status });
      }
    }
    if (section?.prune === true) {
      let before: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const rows = await listFederatedDeployments(db, {
          limit: PRUNE_PAGE,
          state: 'active',
          ...(before === undefined ? {} : { before }),
        });
        active.push(...rows.slice(0, PRUNE_PAGE));
        if (rows.length <= PRUNE_PAGE) break;
        const last = rows[PRUNE_PAGE - 1]!;
        before = { createdAt: last.createdAt, id: last.id };
      }
    }
    return { deployments, active, peers };
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
