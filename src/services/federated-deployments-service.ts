// Federated deployments: "run this version of a module on N instances of a group, spread over these peers
// by a placement policy". The creating platform schedules with the placement engine, writes the deployment
// and one share per peer, and sends each peer its share through the outbox (`deployments.assign`, applied
// once there as the named local operator). Every reconciler tick it first moves shares away from members
// that cannot carry them and back when they recover (`DeploymentRebalancer`), then asks each peer, in one
// call, how its shares stand (`deployments.status`), reports drift as `federation.deployment.drifted` and
// repairs it by sending the share again. Handlers use only their call's `db` (PGlite has one connection).
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import {
  deploymentRolloutOf,
  driftReasons,
  overallStateOf,
  shareStateOf,
  shareTarget,
  unknownOverrideKeys,
  overrideGroups,
  type DeploymentRollout,
  type DeploymentShare,
  type FederatedDeployment,
  type OverallState,
  type ShareOverrides,
  type ShareReport,
} from '../domain/federated-deployment.js';
import type { FederationPeer } from '../domain/federation.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { PlacementExclusion, PlacementPolicy } from '../domain/placement.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, FlotillaError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  countShareStates,
  findFederatedDeployment,
  insertFederatedDeployment,
  insertShare,
  listActiveShares,
  listFederatedDeployments,
  listShares,
  markDeploymentDeleted,
  updateFederatedDeployment,
  updateShare,
  type SharePatch,
  type DeploymentPatch,
} from '../store/federated-deployments-repository.js';
import { findOperatorByName } from '../store/operators-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import { DeploymentRebalancer } from './deployment-rebalancer.js';
import {
  forgetArgsSchema,
  shareArgsSchema,
  type DeploymentSharesService,
  type ShareArgs,
} from './deployment-shares-service.js';
import type { FederationService } from './federation-service.js';
import { requireRole } from './operators-service.js';
import type { PeerCalls } from './peer-calls.js';
import { PLACEMENT_CAPABILITY, type PlacementPlan, type PlacementService } from './placement-service.js';

export const DEPLOYMENT_OPERATIONS = {
  assign: 'deployments.assign',
  status: 'deployments.status',
  forget: 'deployments.forget',
} as const;
/** Deployments the reconciler polls per tick. */
const TICK_LIMIT = 500;

const statusArgs = z.strictObject({ deployments: z.array(shareArgsSchema).max(TICK_LIMIT) });
const reportSchema = z.object({
  assigned: z.number().int().min(0),
  running_healthy: z.number().int().min(0),
  drifted: z.number().int().min(0),
  upgrading: z.number().int().min(0).default(0),
});
const statusAnswerSchema = z.object({
  deployments: z.array(reportSchema.extend({ federated_deployment_id: z.string() })),
});

export interface DeploymentSpec {
  version: string;
  replicas: number;
  group: string;
  /** Peers by id or name. */
  peers: readonly string[];
  includeLocal: boolean;
  placement: PlacementPolicy;
  overrides: ShareOverrides;
  /** Default true. */
  failback?: boolean;
  /** How peers upgrade instances on another version; defaults apply to fields left out. */
  rollout?: Partial<DeploymentRollout>;
}

export interface CreateDeploymentInput extends DeploymentSpec {
  name: string;
  moduleName: string;
}

export type UpdateDeploymentInput = Partial<DeploymentSpec>;

export interface DeploymentView {
  deployment: FederatedDeployment;
  shares: DeploymentShare[];
  overall: OverallState;
}

export type PlacedView = DeploymentView & { excluded: PlacementExclusion[] };

export class FederatedDeploymentsService {
  private readonly rebalancer: DeploymentRebalancer;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly placement: PlacementService,
    private readonly federation: FederationService,
    private readonly audit: AuditService,
    private readonly calls: PeerCalls,
    private readonly shares: DeploymentSharesService,
  ) {
    this.rebalancer = new DeploymentRebalancer(deps, placement, audit, (db, d, share, onBehalfOf) =>
      this.dispatch(db, d, share, onBehalfOf),
    );
  }

  /** Registers the two operations a peer calls here for its deployments' shares, and the settle hook. */
  register(): void {
    this.calls.register({
      name: DEPLOYMENT_OPERATIONS.assign,
      capability: PLACEMENT_CAPABILITY,
      residencyKinds: [],
      args: shareArgsSchema,
      handle: async ({ db, peer, onBehalfOf, args, now }) => {
        const caller = await localCaller(db, peer, onBehalfOf);
        const applied = await this.shares.apply(db, caller, args, peer.id, now);
        await this.audit.append(
          peer.id,
          {
            actor: `peer:${peer.name}/${caller.name}`,
            action: 'federated_deployment.assign',
            payload: { ...args, ...applied },
          },
          db,
        );
        return applied;
      },
    });
    this.calls.register({
      name: DEPLOYMENT_OPERATIONS.forget,
      capability: PLACEMENT_CAPABILITY,
      residencyKinds: [],
      args: forgetArgsSchema,
      handle: async ({ db, peer, onBehalfOf, args, now }) => {
        const caller = await localCaller(db, peer, onBehalfOf);
        const forgotten = await this.shares.forget(db, caller, args, peer.id, now);
        await this.audit.append(
          peer.id,
          {
            actor: `peer:${peer.name}/${caller.name}`,
            action: 'federated_deployment.forget',
            payload: { ...args, ...forgotten },
          },
          db,
        );
        return forgotten;
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
        const reports = await this.shares.reports(db, args.deployments);
        const out = args.deployments.flatMap((d, i) => {
          const report = reports[i];
          return report === null || report === undefined
            ? []
            : [{ federated_deployment_id: d.federated_deployment_id, ...report }];
        });
        return { deployments: out };
      },
    });
    this.calls.onSettled(DEPLOYMENT_OPERATIONS.assign, async (db, entry, outcome) => {
      const id = String(entry.args.federated_deployment_id);
      const share = (await listShares(db, id)).find((s) => s.federationPeerId === entry.federationPeerId);
      // A share sent again since (an update, a failover) answers for itself.
      if (share === undefined || Number(entry.args.replicas) !== share.desiredReplicas) return;
      const now = this.deps.clock.now();
      const parsed = reportSchema.safeParse(entry.response);
      if (outcome === 'delivered' && parsed.success) {
        await this.propagated(db, String(entry.args.name), share, parsed.data, now);
      } else {
        const error = entry.lastError ?? `${share.peerName} refused its share`;
        await updateShare(db, share.id, { state: 'failed', lastError: error }, now);
        await appendEvent(
          db,
          {
            kind: 'federation.deployment.share_refused',
            actor: 'reconciler',
            payload: { federated_deployment_id: id, name: entry.args.name, peer_name: share.peerName, error },
          },
          now,
        );
      }
    });
  }

  // ---- creating, changing, reading ---------------------------------------------------------------

  /**
   * Schedules the replicas with the placement engine, writes the deployment and its shares and sends each
   * peer its share through the outbox; this platform's own share is assigned at once. Refused, writing
   * nothing, when the placement is infeasible (the reasons name each peer).
   */
  async create(caller: Caller, input: CreateDeploymentInput): Promise<PlacedView> {
    requireRole(caller, 'admin', 'creating a federated deployment');
    if ((await findFederatedDeployment(this.deps.db, { name: input.name })) !== null) {
      throw new ConflictError(`federated deployment ${input.name} already exists`, {
        hint: 'choose another name, or get_federated_deployment to see it',
      });
    }
    const { plan, peers } = await this.schedule(input.moduleName, input, null);
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
        peers: peers.map((p) => p.name),
        failback: input.failback ?? true,
        rollout: deploymentRolloutOf(input.rollout),
        createdBy: caller.name,
        at: now,
      });
      await this.placeShares(trx, d, plan, [], caller.name, now);
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
            shares: sharesByName(plan),
            excluded: exclusions(plan),
          },
        },
        now,
      );
      return d;
    });
    return { ...(await this.view(this.deps.db, deployment)), excluded: plan.result.excluded };
  }

  /**
   * Changes what the deployment declares and places it again: shares whose replicas, version or group
   * change are sent again (a smaller share gives instances back there), peers left out get a share of 0.
   * A change equal to what is declared writes nothing. Refused, writing nothing, like create.
   */
  async update(caller: Caller, ref: string, input: UpdateDeploymentInput): Promise<PlacedView & { changed: boolean }> {
    requireRole(caller, 'admin', 'changing a federated deployment');
    const current = await this.get(ref);
    const d = current.deployment;
    if (d.state === 'deleted') {
      throw new ConflictError(`federated deployment ${d.name} is deleted`, {
        hint: 'create a new deployment under another name',
      });
    }
    const spec: DeploymentSpec = {
      version: input.version ?? d.version,
      replicas: input.replicas ?? d.replicas,
      group: input.group ?? d.groupName,
      peers: input.peers ?? d.peers,
      includeLocal: input.includeLocal ?? d.includeLocal,
      placement: input.placement ?? d.placement,
      overrides: input.overrides ?? d.overrides,
      failback: input.failback ?? d.failback,
      rollout: { ...d.rollout, ...input.rollout },
    };
    const { plan, peers } = await this.schedule(d.moduleName, spec, d.id);
    const patch: DeploymentPatch = {
      version: plan.moduleVersion.version,
      replicas: spec.replicas,
      groupName: spec.group,
      includeLocal: spec.includeLocal,
      placement: spec.placement,
      overrides: spec.overrides,
      peers: peers.map((p) => p.name),
      failback: spec.failback ?? true,
      rollout: deploymentRolloutOf(spec.rollout),
    };
    if (isDeepStrictEqual(patch, declared(d))) return { ...current, excluded: plan.result.excluded, changed: false };
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const locked = await findFederatedDeployment(trx, { id: d.id }, { forUpdate: true });
      if (locked === null || locked.state !== 'active') {
        throw new ConflictError(`federated deployment ${d.name} changed meanwhile; try again`);
      }
      await updateFederatedDeployment(trx, d.id, patch, now);
      const next = { ...locked, ...patch };
      await this.placeShares(trx, next, plan, await listShares(trx, d.id), caller.name, now);
      await appendEvent(
        trx,
        {
          kind: 'federation.deployment.updated',
          actor: caller.name,
          payload: {
            federated_deployment_id: d.id,
            name: d.name,
            changed: changedFields(declared(d), patch),
            shares: sharesByName(plan),
            excluded: exclusions(plan),
          },
        },
        now,
      );
    });
    return { ...(await this.get(d.id)), excluded: plan.result.excluded, changed: true };
  }

  /** By id or name. */
  async get(ref: string): Promise<DeploymentView> {
    // A name may look like a uuid: an id that matches nothing is tried as a name.
    const byId = z.uuid().safeParse(ref).success ? await findFederatedDeployment(this.deps.db, { id: ref }) : null;
    const d = byId ?? (await findFederatedDeployment(this.deps.db, { name: ref }));
    if (d === null) {
      throw new NotFoundError(`federated deployment ${ref} does not exist`, {
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

  /** Stops reconciling the deployment (by id or name); what its shares assigned stays assigned. */
  async delete(caller: Caller, ref: string): Promise<DeploymentView> {
    requireRole(caller, 'admin', 'deleting a federated deployment');
    const d = await this.get(ref);
    if (d.deployment.state === 'deleted') {
      throw new ConflictError(`federated deployment ${d.deployment.name} is already deleted`, {
        hint: 'nothing to do; its assignments were left in place',
      });
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      await markDeploymentDeleted(trx, d.deployment.id, now);
      await this.forgetShares(trx, caller, d.deployment, d.shares, now);
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
    return this.get(d.deployment.id);
  }

  // ---- every tick ---------------------------------------------------------------------------------

  /**
   * A reconciler step: shares moved off members that cannot carry them (and back), then one
   * `deployments.status` call per peer for every active deployment it holds a share of, this platform's
   * own shares read directly; drift is reported and repaired by sending the share again.
   */
  async tick(now: Date): Promise<void> {
    const before = await listActiveShares(this.deps.db, TICK_LIMIT);
    const active = (await this.rebalancer.run(before, now)) ? await listActiveShares(this.deps.db, TICK_LIMIT) : before;
    const byPeer = new Map<string, { d: FederatedDeployment; share: DeploymentShare }[]>();
    const local: { d: FederatedDeployment; share: DeploymentShare }[] = [];
    for (const { deployment, shares } of active) {
      for (const share of shares) {
        // A share its platform refused (its group or version missing there) stays failed: re-sending it
        // would be refused again. A failed-over share waits for its member to come back.
        if (share.state === 'failed' || share.state === 'failed_over') continue;
        if (share.federationPeerId === null) {
          local.push({ d: deployment, share });
          continue;
        }
        const list = byPeer.get(share.federationPeerId) ?? [];
        list.push({ d: deployment, share });
        byPeer.set(share.federationPeerId, list);
      }
    }
    const localReports = await this.shares.reports(
      this.deps.db,
      local.map((i) => argsOf(i.d, i.share)),
    );
    if (local.length > 0) {
      await this.deps.db.transaction().execute(async (trx) => {
        for (const [i, { d, share }] of local.entries()) {
          await this.observe(trx, d, share, null, localReports[i] ?? null, now);
        }
      });
    }
    // The calls go out together; the answers are recorded one after another (PGlite has one connection).
    const answers = await Promise.all(
      [...byPeer].map(async ([peerId, items]) => {
        const peer = await findPeerById(this.deps.db, peerId);
        if (peer === null) return { peer, items, answer: null, error: null };
        const args = { deployments: items.map((i) => argsOf(i.d, i.share)) };
        // A poll restates each share: while residency keeps deployments from the peer it is not sent (and,
        // a poll every tick, not audited each time; the assignment's refusal was).
        if (!(await this.calls.allows(peer, DEPLOYMENT_OPERATIONS.status, args))) {
          const error = `data residency policy of federation peer ${peer.name} keeps deployments from it; status not polled`;
          return { peer, items, answer: null, error };
        }
        try {
          const answer = statusAnswerSchema.parse(
            await this.calls.request(peer, DEPLOYMENT_OPERATIONS.status, args, {
              onBehalfOf: items[0]!.d.createdBy,
              actor: 'reconciler',
              audited: false,
            }),
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
      // One transaction per peer's answer, not one per share.
      await this.deps.db.transaction().execute(async (trx) => {
        for (const { d, share } of items) await this.observe(trx, d, share, peer, reports.get(d.id) ?? null, now);
      });
    }
    await this.reportTransitions(active, now);
  }

  /** `federation.deployment.state_changed` for each deployment whose overall state this tick changed. */
  private async reportTransitions(
    before: readonly { deployment: FederatedDeployment; shares: DeploymentShare[] }[],
    now: Date,
  ): Promise<void> {
    if (before.length === 0) return;
    const after = new Map(
      (await listActiveShares(this.deps.db, TICK_LIMIT)).map((a) => [a.deployment.id, overallStateOf(a.shares)]),
    );
    for (const { deployment, shares } of before) {
      const from = overallStateOf(shares);
      const to = after.get(deployment.id);
      if (to === undefined || to === from) continue;
      await appendEvent(
        this.deps.db,
        {
          kind: 'federation.deployment.state_changed',
          actor: 'reconciler',
          payload: { federated_deployment_id: deployment.id, name: deployment.name, from, to },
        },
        now,
      );
    }
  }

  // ---- internals ----------------------------------------------------------------------------------

  /** Resolves the peers and runs the placement; refuses bad overrides and infeasible plans. */
  private async schedule(
    moduleName: string,
    spec: DeploymentSpec,
    deploymentId: string | null,
  ): Promise<{ plan: PlacementPlan; peers: FederationPeer[] }> {
    const plan = await this.placement.plan({
      moduleName,
      version: spec.version,
      replicas: spec.replicas,
      group: spec.group,
      peers: spec.peers,
      includeLocal: spec.includeLocal,
      placement: spec.placement,
      groups: overrideGroups(spec.overrides),
      deploymentId,
    });
    const names = plan.candidates.map((c) => c.name);
    const unknown = unknownOverrideKeys(spec.overrides, names);
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
          excluded: exclusions(plan),
        },
      });
    }
    const peers = plan.candidates.filter((c) => !c.local);
    return { plan, peers: await Promise.all(peers.map((c) => this.federation.resolve(c.id))) };
  }

  /**
   * Makes the shares match a new plan: a share whose replicas, version or group change is sent again,
   * a new member gets a share, a member the plan leaves out (or that left) gets 0.
   */
  private async placeShares(
    trx: Db,
    d: FederatedDeployment,
    plan: PlacementPlan,
    existing: DeploymentShare[],
    onBehalfOf: string,
    now: Date,
  ): Promise<void> {
    const local = new Set(plan.candidates.filter((c) => c.local).map((c) => c.id));
    const wanted = new Map<string | null, { name: string; replicas: number }>();
    for (const s of plan.result.shares) {
      wanted.set(local.has(s.peer.id) ? null : s.peer.id, { name: s.peer.name, replicas: s.replicas });
    }
    for (const share of existing) {
      if (!wanted.has(share.federationPeerId))
        wanted.set(share.federationPeerId, { name: share.peerName, replicas: 0 });
    }
    for (const [peerId, w] of wanted) {
      const target = shareTarget(d, w.name);
      const old = existing.find((s) => s.federationPeerId === peerId);
      if (old === undefined && w.replicas === 0) continue;
      const share =
        old === undefined
          ? await insertShare(trx, {
              federatedDeploymentId: d.id,
              federationPeerId: peerId,
              peerName: w.name,
              plannedReplicas: w.replicas,
              desiredReplicas: w.replicas,
              version: target.version,
              groupName: target.groupName,
              at: now,
            })
          : { ...old, plannedReplicas: w.replicas, desiredReplicas: w.replicas, ...target };
      if (
        old !== undefined &&
        old.desiredReplicas === w.replicas &&
        old.plannedReplicas === w.replicas &&
        old.version === target.version &&
        old.groupName === target.groupName
      ) {
        continue;
      }
      if (old !== undefined) {
        await updateShare(
          trx,
          share.id,
          {
            plannedReplicas: w.replicas,
            desiredReplicas: w.replicas,
            version: target.version,
            groupName: target.groupName,
            state: 'pending',
            lastError: null,
          },
          now,
        );
      }
      await this.dispatch(trx, d, share, onBehalfOf);
    }
  }

  /** Sends a share to its peer through the outbox, or applies this platform's own share at once. */
  private async dispatch(db: Db, d: FederatedDeployment, share: DeploymentShare, onBehalfOf: string): Promise<void> {
    const now = this.deps.clock.now();
    if (share.federationPeerId !== null) {
      const peer = await findPeerById(db, share.federationPeerId);
      try {
        if (peer === null) throw new NotFoundError(`federation peer ${share.peerName} is gone`);
        await this.calls.enqueue(db, peer, DEPLOYMENT_OPERATIONS.assign, argsOf(d, share), { onBehalfOf });
      } catch (err) {
        // A peering no longer live, or residency that now keeps deployments from it: refused before a byte
        // left (the residency gate audited it); the share shows why, and the rebalancer moves it.
        if (!(err instanceof FlotillaError)) throw err;
        await updateShare(db, share.id, { state: 'failed', lastError: err.message }, now);
      }
      return;
    }
    const operator = await findOperatorByName(db, onBehalfOf);
    if (operator === null || operator.revokedAt !== null) {
      await updateShare(db, share.id, { state: 'failed', lastError: `${onBehalfOf} is not an active operator` }, now);
      return;
    }
    const caller = { operatorId: operator.id, name: operator.name, role: operator.role };
    const report = await this.shares.apply(db, caller, argsOf(d, share), null, now);
    await this.propagated(db, d.name, share, report, now);
  }

  /** A share reached its platform and was applied: its answer recorded, the step in the event log. */
  private async propagated(db: Db, name: string, share: DeploymentShare, report: ShareReport, now: Date) {
    await this.recordReport(db, share, report, now, { propagatedAt: now });
    await appendEvent(
      db,
      {
        kind: 'federation.deployment.propagated',
        actor: 'reconciler',
        payload: {
          federated_deployment_id: share.federatedDeploymentId,
          name,
          peer_name: share.peerName,
          replicas: share.desiredReplicas,
          version: share.version,
          group: share.groupName,
          assigned: report.assigned,
          running_healthy: report.running_healthy,
          upgrading: report.upgrading,
        },
      },
      now,
    );
  }

  /**
   * Tells each share's platform the deployment is gone, through the outbox: it forgets which instances the
   * share claimed (their versions stay). A peering no longer live cannot be told; its claims stay there.
   * A lost peer is told when it answers again.
   */
  private async forgetShares(
    db: Db,
    caller: Caller,
    d: FederatedDeployment,
    shares: readonly DeploymentShare[],
    now: Date,
  ): Promise<void> {
    const args = { federated_deployment_id: d.id, name: d.name };
    for (const share of shares) {
      if (share.federationPeerId === null) {
        await this.shares.forget(db, caller, args, null, now);
        continue;
      }
      const peer = await findPeerById(db, share.federationPeerId);
      if (peer === null) continue;
      try {
        await this.calls.enqueue(db, peer, DEPLOYMENT_OPERATIONS.forget, args, { onBehalfOf: caller.name });
      } catch (err) {
        if (!(err instanceof FlotillaError)) throw err;
      }
    }
  }

  /** Records what a share's platform said; on drift, an event and the share sent again. */
  private async observe(
    trx: Db,
    d: FederatedDeployment,
    share: DeploymentShare,
    peer: FederationPeer | null,
    report: ShareReport | null,
    now: Date,
  ): Promise<void> {
    const seen = report ?? { assigned: 0, running_healthy: 0, drifted: 0, upgrading: 0 };
    const reasons = driftReasons(share, seen);
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
    if (peer === null || peer.status === 'active') await this.dispatch(trx, d, share, d.createdBy);
  }

  /** Records what a share's platform reported, with `also` (when it was propagated) in the same update. */
  private async recordReport(
    db: Db,
    share: DeploymentShare,
    report: ShareReport,
    now: Date,
    also: Pick<SharePatch, 'propagatedAt'> = {},
  ): Promise<void> {
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
        ...also,
      },
      now,
    );
  }

  private async view(db: Db, d: FederatedDeployment): Promise<DeploymentView> {
    const shares = await listShares(db, d.id);
    return { deployment: d, shares, overall: overallStateOf(shares) };
  }
}

/** The share as it travels to its platform. */
export function argsOf(d: FederatedDeployment, share: DeploymentShare): ShareArgs {
  return {
    federated_deployment_id: d.id,
    name: d.name,
    module_name: d.moduleName,
    version: share.version,
    group: share.groupName,
    replicas: share.desiredReplicas,
    rollout: d.rollout,
  };
}

function declared(d: FederatedDeployment): DeploymentPatch {
  return {
    version: d.version,
    replicas: d.replicas,
    groupName: d.groupName,
    includeLocal: d.includeLocal,
    placement: d.placement,
    overrides: d.overrides,
    peers: d.peers,
    failback: d.failback,
    rollout: d.rollout,
  };
}

function changedFields(a: DeploymentPatch, b: DeploymentPatch): string[] {
  return (Object.keys(b) as (keyof DeploymentPatch)[]).filter((k) => !isDeepStrictEqual(a[k], b[k]));
}

function sharesByName(plan: PlacementPlan): Record<string, number> {
  return Object.fromEntries(plan.result.shares.map((s) => [s.peer.name, s.replicas]));
}

function exclusions(plan: PlacementPlan): { peer: string; reasons: string[] }[] {
  return plan.result.excluded.map((e) => ({ peer: e.peer.name, reasons: e.reasons }));
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
