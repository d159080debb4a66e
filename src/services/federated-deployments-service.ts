// Federated deployments: "run this version of a module on N instances of a group, spread over these peers
// by a placement policy". The creating platform schedules with the placement engine, writes the deployment
// and one share per peer, and sends each peer its share through the outbox (`deployments.assign`, applied
// once there as the named local operator). Every reconciler tick it asks each peer, in one call, how its
// shares stand (`deployments.status`), reports drift as `federation.deployment.drifted` and repairs it by
// sending the share again. Handlers use only their call's `db`: on PGlite the main handle would wait forever.
import { z } from 'zod';
import {
  driftReasons,
  overallStateOf,
  shareStateOf,
  shareTarget,
  unknownOverrideKeys,
  type DeploymentShare,
  type FederatedDeployment,
  type OverallState,
  type ShareOverrides,
  type ShareReport,
} from '../domain/federated-deployment.js';
import type { FederationPeer } from '../domain/federation.js';
import { DEPLOYABLE_STATES } from '../domain/lifecycle.js';
import { groupNameSchema, moduleNameSchema } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { PlacementExclusion, PlacementPolicy } from '../domain/placement.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  countShareStates,
  findFederatedDeployment,
  insertFederatedDeployment,
  insertShare,
  instancesWithout,
  listActiveShares,
  listFederatedDeployments,
  listShares,
  markDeploymentDeleted,
  shareCounts,
  updateShare,
} from '../store/federated-deployments-repository.js';
import { findGroup } from '../store/groups-repository.js';
import { setInstanceDesiredVersions } from '../store/instances-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findOperatorByName } from '../store/operators-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { FederationService } from './federation-service.js';
import { requireRole } from './operators-service.js';
import type { PeerCalls } from './peer-calls.js';
import { PLACEMENT_CAPABILITY, PLACEMENT_RESIDENCY_KINDS, type PlacementService } from './placement-service.js';

export const DEPLOYMENT_OPERATIONS = { assign: 'deployments.assign', status: 'deployments.status' } as const;
/** Deployments the reconciler polls per tick. */
const TICK_LIMIT = 500;

const shareArgs = z.strictObject({
  federated_deployment_id: z.uuid(),
  name: z.string().min(1).max(200),
  module_name: moduleNameSchema,
  version: z.string().min(1).max(200),
  group: groupNameSchema,
  replicas: z.number().int().min(0).max(10_000_000),
});
type ShareArgs = z.infer<typeof shareArgs>;
const statusArgs = z.strictObject({ deployments: z.array(shareArgs).max(TICK_LIMIT) });
const reportSchema = z.object({
  assigned: z.number().int().min(0),
  running_healthy: z.number().int().min(0),
  drifted: z.number().int().min(0),
});
const statusAnswerSchema = z.object({
  deployments: z.array(reportSchema.extend({ federated_deployment_id: z.string() })),
});

export interface CreateDeploymentInput {
  name: string;
  moduleName: string;
  version: string;
  replicas: number;
  group: string;
  peers: readonly string[];
  includeLocal: boolean;
  placement: PlacementPolicy;
  overrides: ShareOverrides;
}

export interface DeploymentView {
  deployment: FederatedDeployment;
  shares: DeploymentShare[];
  overall: OverallState;
}

export class FederatedDeploymentsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly placement: PlacementService,
    private readonly federation: FederationService,
    private readonly audit: AuditService,
    private readonly calls: PeerCalls,
  ) {}

  /** Registers the two operations a peer calls here for its deployments' shares, and the settle hook. */
  register(): void {
    this.calls.register({
      name: DEPLOYMENT_OPERATIONS.assign,
      capability: PLACEMENT_CAPABILITY,
      residencyKinds: [],
      args: shareArgs,
      handle: async ({ db, peer, onBehalfOf, args, now }) => {
        const caller = await localCaller(db, peer, onBehalfOf);
        const report = await this.applyShare(db, caller, args, now);
        await this.audit.append(
          peer.id,
          {
            actor: `peer:${peer.name}/${caller.name}`,
            action: 'federated_deployment.assign',
            payload: { ...args, ...report },
          },
          db,
        );
        return report;
      },
    });
    this.calls.register({
      name: DEPLOYMENT_OPERATIONS.status,
      capability: 'inventory.read',
      residencyKinds: ['deployments'],
      args: statusArgs,
      // A poll, every tick: assignments are audited when they happen, not each time they are read.
      audited: false,
      handle: async ({ db, args }) => {
        const out = [];
        for (const d of args.deployments) {
          const report = await this.shareReport(db, d);
          if (report !== null) out.push({ federated_deployment_id: d.federated_deployment_id, ...report });
        }
        return { deployments: out };
      },
    });
    this.calls.onSettled(DEPLOYMENT_OPERATIONS.assign, async (db, entry, outcome) => {
      const id = String(entry.args.federated_deployment_id);
      const share = (await listShares(db, id)).find((s) => s.federationPeerId === entry.federationPeerId);
      if (share === undefined) return;
      const now = this.deps.clock.now();
      const parsed = reportSchema.safeParse(entry.response);
      if (outcome === 'delivered' && parsed.success) {
        await this.recordReport(db, share, parsed.data, now);
      } else {
        await updateShare(
          db,
          share.id,
          { state: 'failed', lastError: entry.lastError ?? `${share.peerName} refused its share` },
          now,
        );
      }
    });
  }

  // ---- on a share's platform --------------------------------------------------------------------

  /**
   * Assigns `version` to as many live instances of `group` as the share asks, as `caller`; instances that
   * already have it count. Answers the share's state here.
   */
  async applyShare(db: Db, caller: Caller, args: ShareArgs, now: Date): Promise<ShareReport> {
    requireRole(caller, 'operator', 'assigning a federated deployment share');
    const { group, version } = await this.resolveShare(db, args);
    const before = await shareCounts(db, {
      groupId: group.id,
      moduleId: version.moduleId,
      moduleName: version.moduleName,
      versionId: version.id,
      digest: version.digest,
    });
    const missing = args.replicas - before.assigned;
    const ids = await instancesWithout(db, {
      groupId: group.id,
      moduleId: version.moduleId,
      versionId: version.id,
      limit: missing,
    });
    if (ids.length > 0) {
      const count = await setInstanceDesiredVersions(db, {
        groupId: group.id,
        instanceIds: ids,
        moduleId: version.moduleId,
        versionId: version.id,
        by: caller.name,
        at: now,
      });
      await appendEvent(
        db,
        {
          kind: 'module.version.assigned',
          actor: caller.name,
          payload: {
            group_id: group.id,
            group: group.name,
            module_id: version.moduleId,
            module_name: version.moduleName,
            version_id: version.id,
            version: version.version,
            scope: 'instances',
            instance_count: count,
            federated_deployment: args.name,
          },
        },
        now,
      );
    }
    return (await this.shareReport(db, args))!;
  }

  /** The share's state here; null when its group, module or version does not exist here. */
  private async shareReport(db: Db, args: ShareArgs): Promise<ShareReport | null> {
    const group = await findGroup(db, { name: args.group });
    const module = await findModule(db, { name: args.module_name });
    const version = module === null ? null : await findVersion(db, { moduleId: module.id, version: args.version });
    if (group === null || version === null) return null;
    const c = await shareCounts(db, {
      groupId: group.id,
      moduleId: version.moduleId,
      moduleName: version.moduleName,
      versionId: version.id,
      digest: version.digest,
    });
    return { assigned: c.assigned, running_healthy: c.runningHealthy, drifted: c.drifted };
  }

  private async resolveShare(db: Db, args: ShareArgs) {
    const group = await findGroup(db, { name: args.group });
    if (group === null) {
      throw new NotFoundError(`group ${args.group} does not exist on this platform`, {
        hint: 'create the group (an enrollment token for it) here first',
      });
    }
    const module = await findModule(db, { name: args.module_name });
    const version = module === null ? null : await findVersion(db, { moduleId: module.id, version: args.version });
    if (version === null) {
      throw new NotFoundError(`${args.module_name} ${args.version} is not published on this platform`, {
        hint: 'publish the version here first',
      });
    }
    if (!DEPLOYABLE_STATES.includes(version.lifecycleState)) {
      throw new ConflictError(
        `${version.moduleName} ${version.version} is ${version.lifecycleState} on this platform; only published, blessed or live versions can be assigned`,
        { hint: 'promote it here first' },
      );
    }
    return { group, version };
  }

  // ---- on the creating platform -----------------------------------------------------------------

  /**
   * Schedules the replicas with the placement engine, writes the deployment and its shares and sends each
   * peer its share through the outbox; this platform's own share is assigned at once. Refused, writing
   * nothing, when the placement is infeasible (the reasons name each peer).
   */
  async create(
    caller: Caller,
    input: CreateDeploymentInput,
  ): Promise<DeploymentView & { excluded: PlacementExclusion[] }> {
    requireRole(caller, 'admin', 'creating a federated deployment');
    if ((await findFederatedDeployment(this.deps.db, { name: input.name })) !== null) {
      throw new ConflictError(`federated deployment ${input.name} already exists`, {
        hint: 'choose another name, or get_federated_deployment to see it',
      });
    }
    const plan = await this.placement.plan({
      moduleName: input.moduleName,
      version: input.version,
      replicas: input.replicas,
      group: input.group,
      peers: input.peers,
      includeLocal: input.includeLocal,
      placement: input.placement,
    });
    const names = plan.candidates.map((c) => c.name);
    const unknown = unknownOverrideKeys(input.overrides, names);
    if (unknown.length > 0) {
      throw new InvalidInputError(`overrides name ${unknown.join(', ')}, not a peer of this deployment`, {
        hint: `overrides are keyed by peer name: ${names.join(', ')}`,
      });
    }
    const r = plan.result;
    if (!r.feasible) {
      const perPeer = r.excluded.map((e) => `${e.peer.name}: ${e.reasons.join('; ')}`);
      throw new ConflictError(`the placement is infeasible: ${[...r.reasons, ...perPeer].join('; ')}`, {
        hint: 'plan_placement shows each peer’s share and why; add peers, lower replicas or change the policy',
        details: {
          reasons: r.reasons,
          unplaced: r.unplaced,
          excluded: r.excluded.map((e) => ({ peer: e.peer.name, reasons: e.reasons })),
        },
      });
    }
    const local = new Set(plan.candidates.filter((c) => c.local).map((c) => c.id));
    const peers = new Map<string, FederationPeer>();
    for (const s of r.shares) {
      if (s.replicas > 0 && !local.has(s.peer.id)) peers.set(s.peer.id, await this.federation.resolve(s.peer.id));
    }
    const deployment = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const d = await insertFederatedDeployment(trx, {
        name: input.name,
        moduleName: plan.moduleVersion.moduleName,
        version: plan.moduleVersion.version,
        replicas: input.replicas,
        groupName: input.group,
        includeLocal: input.includeLocal,
        placement: input.placement,
        overrides: input.overrides,
        createdBy: caller.name,
        at: now,
      });
      for (const s of r.shares) {
        if (s.replicas === 0) continue;
        const target = shareTarget(d, s.peer.name);
        const isLocal = local.has(s.peer.id);
        const share = await insertShare(trx, {
          federatedDeploymentId: d.id,
          federationPeerId: isLocal ? null : s.peer.id,
          peerName: s.peer.name,
          desiredReplicas: s.replicas,
          version: target.version,
          groupName: target.groupName,
          at: now,
        });
        if (isLocal) {
          const report = await this.applyShare(trx, caller, argsOf(d, share), now);
          await this.recordReport(trx, share, report, now);
        } else {
          await this.sendShare(trx, peers.get(s.peer.id)!, d, share, caller.name);
        }
      }
      await appendEvent(
        trx,
        {
          kind: 'federation.deployment.created',
          actor: caller.name,
          payload: {
            federated_deployment_id: d.id,
            name: d.name,
            module_name: d.moduleName,
            version: d.version,
            replicas: d.replicas,
            group: d.groupName,
            shares: Object.fromEntries(r.shares.map((s) => [s.peer.name, s.replicas])),
            excluded: r.excluded.map((e) => ({ peer: e.peer.name, reasons: e.reasons })),
          },
        },
        now,
      );
      return d;
    });
    return { ...(await this.view(this.deps.db, deployment)), excluded: r.excluded };
  }

  async get(id: string): Promise<DeploymentView> {
    const d = await findFederatedDeployment(this.deps.db, { id });
    if (d === null) {
      throw new NotFoundError(`federated deployment ${id} does not exist`, {
        hint: 'list_federated_deployments shows the deployments',
      });
    }
    return this.view(this.deps.db, d);
  }

  async list(f: {
    limit: number;
    cursor?: string;
  }): Promise<Page<FederatedDeployment & { overall: OverallState; shareCount: number }>> {
    const before = f.cursor === undefined ? undefined : decodeTimeIdCursor(f.cursor);
    const rows = await listFederatedDeployments(this.deps.db, {
      limit: f.limit,
      ...(before === undefined ? {} : { before }),
    });
    const states = await countShareStates(
      this.deps.db,
      rows.map((r) => r.id),
    );
    const out = rows.map((r) => {
      const s = states.get(r.id) ?? [];
      return { ...r, overall: overallStateOf(s.map((state) => ({ state }))), shareCount: s.length };
    });
    return toPage(out, f.limit, (r) => ({ created_at: r.createdAt.toISOString(), id: r.id }));
  }

  /** Stops reconciling the deployment; what its shares assigned stays assigned. */
  async delete(caller: Caller, id: string): Promise<DeploymentView> {
    requireRole(caller, 'admin', 'deleting a federated deployment');
    const d = await this.get(id);
    if (d.deployment.state === 'deleted') {
      throw new ConflictError(`federated deployment ${d.deployment.name} is already deleted`, {
        hint: 'nothing to do; its assignments were left in place',
      });
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      await markDeploymentDeleted(trx, d.deployment.id, now);
      await appendEvent(
        trx,
        {
          kind: 'federation.deployment.deleted',
          actor: caller.name,
          payload: { federated_deployment_id: d.deployment.id, name: d.deployment.name },
        },
        now,
      );
    });
    return this.get(id);
  }

  /**
   * A reconciler step: one `deployments.status` call per peer for every active deployment it holds a share
   * of, this platform's own shares read directly; drift is reported and repaired by sending the share again.
   */
  async tick(now: Date): Promise<void> {
    const active = await listActiveShares(this.deps.db, TICK_LIMIT);
    const byPeer = new Map<string, { d: FederatedDeployment; share: DeploymentShare }[]>();
    for (const { deployment, shares } of active) {
      for (const share of shares) {
        // A share its platform refused (its group or version missing there) stays failed: re-sending it
        // would be refused again. The outbox already retried what was only unreachable.
        if (share.state === 'failed') continue;
        if (share.federationPeerId === null) {
          const report = await this.shareReport(this.deps.db, argsOf(deployment, share));
          await this.observe(deployment, share, null, report, now);
          continue;
        }
        const list = byPeer.get(share.federationPeerId) ?? [];
        list.push({ d: deployment, share });
        byPeer.set(share.federationPeerId, list);
      }
    }
    // The calls go out together; the answers are recorded one after another (PGlite has one connection).
    const answers = await Promise.all(
      [...byPeer].map(async ([peerId, items]) => {
        const peer = await findPeerById(this.deps.db, peerId);
        if (peer === null) return { peer, items, answer: null, error: null };
        try {
          const answer = statusAnswerSchema.parse(
            await this.calls.request(
              peer,
              DEPLOYMENT_OPERATIONS.status,
              { deployments: items.map((i) => argsOf(i.d, i.share)) },
              { onBehalfOf: items[0]!.d.createdBy, actor: 'reconciler', audited: false },
            ),
          );
          return { peer, items, answer, error: null };
        } catch (err) {
          return { peer, items, answer: null, error: (err as Error).message };
        }
      }),
    );
    for (const { peer, items, answer, error } of answers) {
      if (peer === null) continue;
      if (answer === null) {
        for (const { share } of items) {
          await updateShare(this.deps.db, share.id, { state: 'unreachable', lastError: error }, now);
        }
        continue;
      }
      const reports = new Map(answer.deployments.map((a) => [a.federated_deployment_id, a]));
      for (const { d, share } of items) await this.observe(d, share, peer, reports.get(d.id) ?? null, now);
    }
  }

  /** Records what a share's platform said; on drift, an event and the share sent again. */
  private async observe(
    d: FederatedDeployment,
    share: DeploymentShare,
    peer: FederationPeer | null,
    report: ShareReport | null,
    now: Date,
  ): Promise<void> {
    const seen = report ?? { assigned: 0, running_healthy: 0, drifted: 0 };
    const reasons = driftReasons(share, seen);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.recordReport(trx, share, seen, now);
      if (reasons.length === 0) return;
      await appendEvent(
        trx,
        {
          kind: 'federation.deployment.drifted',
          actor: 'reconciler',
          payload: {
            federated_deployment_id: d.id,
            name: d.name,
            peer_name: share.peerName,
            desired: share.desiredReplicas,
            ...seen,
            reasons,
          },
        },
        now,
      );
      if (peer === null) {
        const creator = await findOperatorByName(trx, d.createdBy);
        if (creator === null || creator.revokedAt !== null) return;
        await this.applyShare(
          trx,
          { operatorId: creator.id, name: creator.name, role: creator.role },
          argsOf(d, share),
          now,
        );
      } else {
        await this.sendShare(trx, peer, d, share, d.createdBy);
      }
    });
  }

  private async recordReport(db: Db, share: DeploymentShare, report: ShareReport, now: Date): Promise<void> {
    await updateShare(
      db,
      share.id,
      {
        assigned: report.assigned,
        runningHealthy: report.running_healthy,
        drifted: report.drifted,
        lastContactAt: now,
        lastError: null,
        state: shareStateOf(share.desiredReplicas, report),
      },
      now,
    );
  }

  private async sendShare(
    db: Db,
    peer: FederationPeer,
    d: FederatedDeployment,
    share: DeploymentShare,
    onBehalfOf: string,
  ): Promise<void> {
    await this.calls.enqueue(db, peer, DEPLOYMENT_OPERATIONS.assign, argsOf(d, share), {
      onBehalfOf,
      carries: PLACEMENT_RESIDENCY_KINDS,
    });
  }

  private async view(db: Db, d: FederatedDeployment): Promise<DeploymentView> {
    const shares = await listShares(db, d.id);
    return { deployment: d, shares, overall: overallStateOf(shares) };
  }
}

function argsOf(d: FederatedDeployment, share: DeploymentShare): ShareArgs {
  return {
    federated_deployment_id: d.id,
    name: d.name,
    module_name: d.moduleName,
    version: share.version,
    group: share.groupName,
    replicas: share.desiredReplicas,
  };
}

/** The active local operator a call names: a share is assigned as that operator, under its own role. */
async function localCaller(db: Db, peer: FederationPeer, onBehalfOf: string | null): Promise<Caller> {
  const operator = onBehalfOf === null ? null : await findOperatorByName(db, onBehalfOf);
  if (operator === null || operator.revokedAt !== null) {
    throw new ForbiddenError(
      `federation peer ${peer.name} sent a deployment share on behalf of ${onBehalfOf ?? 'nobody'}, who is not an active operator here`,
      {
        hint: `ask an admin of this platform to create operator ${onBehalfOf ?? 'NAME'} with the operator role`,
        details: { reason: onBehalfOf === null ? 'no_operator' : 'unknown_operator', operator: onBehalfOf },
      },
    );
  }
  return { operatorId: operator.id, name: operator.name, role: operator.role };
}
