// The target side of federated rollouts: the peer operations a platform answers when a peer asks it to run
// a leg (rollouts.precheck, .start, .control, .status), and the rollouts.leg_progress push to the origin
// after the runner commits. Handlers use only their call's `db`: on PGlite the main handle would wait forever.
import {
  controlArgsSchema,
  LEG_OPERATIONS,
  legStatus,
  precheckArgsSchema,
  startArgsSchema,
  statusArgsSchema,
  type ControlArgs,
  type LegStatus,
  type PrecheckAnswer,
  type StartAnswer,
  type StartArgs,
} from '../domain/federated-legs.js';
import type { FederationPeer } from '../domain/federation.js';
import { DEPLOYABLE_STATES } from '../domain/lifecycle.js';
import type { Rollout } from '../domain/rollout.js';
import { isActiveRollout } from '../domain/rollout-state.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import type { RolloutRunner } from '../scheduler/rollout-runner.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { completedBatchCounts, pendingApprovalIds } from '../store/federated-legs-repository.js';
import { findGroup } from '../store/groups-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findOperatorByName } from '../store/operators-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import { countLiveInstances } from '../store/rollout-targets-repository.js';
import { findPeerLegsByRefs, findRollout, updateRollout } from '../store/rollouts-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { PeerCallContext, PeerCalls } from './peer-calls.js';
import type { RolloutsService } from './rollouts-service.js';

export class FederatedLegsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rollouts: RolloutsService,
    private readonly runner: RolloutRunner,
    private readonly audit: AuditService,
    private readonly calls: PeerCalls,
  ) {}

  /** Registers the four operations a peer calls to run a leg here. */
  register(): void {
    this.calls.register({
      name: LEG_OPERATIONS.precheck,
      capability: 'versions.read',
      residencyKinds: ['module_config'],
      args: precheckArgsSchema,
      handle: ({ db, args }) => this.precheck(db, args),
    });
    this.calls.register({
      name: LEG_OPERATIONS.start,
      capability: 'rollouts.request',
      residencyKinds: [],
      args: startArgsSchema,
      handle: (ctx) => inTransaction(ctx.db, (trx) => this.start({ ...ctx, db: trx })),
    });
    this.calls.register({
      name: LEG_OPERATIONS.control,
      capability: 'rollouts.control',
      residencyKinds: [],
      args: controlArgsSchema,
      handle: (ctx) => inTransaction(ctx.db, (trx) => this.control({ ...ctx, db: trx })),
    });
    this.calls.register({
      name: LEG_OPERATIONS.status,
      capability: 'rollouts.request',
      residencyKinds: [],
      args: statusArgsSchema,
      // A poll, every tick: the legs' changes are audited when they happen, not each time they are read.
      audited: false,
      handle: async ({ db, peer, args, now }) => ({
        legs: await this.statuses(db, peer, args.federated_rollout_ids, now),
      }),
    });
  }

  /** Whether this platform could run a leg of `target_version` of `module_name` in `group`. */
  async precheck(
    db: Db,
    args: { module_name: string; target_version: string; group: string },
  ): Promise<PrecheckAnswer> {
    const [module, group] = await Promise.all([
      findModule(db, { name: args.module_name }),
      findGroup(db, { name: args.group }),
    ]);
    const version =
      module === null ? null : await findVersion(db, { moduleId: module.id, version: args.target_version });
    return {
      module_found: module !== null,
      version_found: version !== null,
      lifecycle_state: version?.lifecycleState ?? null,
      deployable: version !== null && DEPLOYABLE_STATES.includes(version.lifecycleState),
      group_found: group !== null,
      instance_count: group === null ? 0 : await countLiveInstances(db, group.id),
    };
  }

  /** Plans the leg as the local operator the call names, under this platform's own policy. */
  private async start(ctx: PeerCallContext<StartArgs>): Promise<StartAnswer> {
    const { db, peer, args, now } = ctx;
    const caller = await localCaller(db, peer, ctx.onBehalfOf);
    const existing = (await findPeerLegsByRefs(db, [args.federated_rollout_id])).find(
      (r) => r.federationOriginPeerId === peer.id,
    );
    if (existing !== undefined) {
      throw new ConflictError(
        `federated rollout ${args.federated_rollout_id} already has its leg on this platform: rollout ${existing.id} (${existing.state})`,
        {
          hint: 'control that leg (rollouts.control) instead of starting another',
          details: { rollout_id: existing.id },
        },
      );
    }
    const plan = await this.rollouts.plan(
      caller,
      {
        group: { groupName: args.group },
        module: { moduleName: args.module_name },
        targetVersionRef: args.target_version,
        strategy: args.strategy,
        maxConsecutiveFailures: args.max_consecutive_failures,
        healthTimeoutSec: args.health_timeout_sec,
        maxFailurePct: null,
        minSample: null,
        soakSec: 0,
        federationRolloutRef: args.federated_rollout_id,
        federationOriginPeerId: peer.id,
        barrierBatch: args.barrier_batch,
      },
      false,
      db,
    );
    const rolloutId = plan.rolloutId!;
    const payload = {
      federated_rollout_id: args.federated_rollout_id,
      rollout_id: rolloutId,
      state: plan.state,
      approval_request_id: plan.approvalRequestId,
      barrier_batch: args.barrier_batch,
      requested_by: caller.name,
    };
    await this.audit.append(
      peer.id,
      { actor: actorOf(peer, caller.name), action: 'federated_rollout.start', payload },
      db,
    );
    await appendEvent(
      db,
      {
        kind: 'federation.rollout.leg_started',
        actor: actorOf(peer, caller.name),
        payload: { ...payload, peer_id: peer.id, peer_name: peer.name },
      },
      now,
    );
    return {
      rollout_id: rolloutId,
      state: plan.state!,
      approval_request_id: plan.approvalRequestId,
      batch_count: plan.batchCount,
    };
  }

  /** Pause, resume, rollback, abort (as the named local operator) or set_barrier (the origin only). */
  private async control(ctx: PeerCallContext<ControlArgs>): Promise<LegStatus> {
    const { db, peer, args, now } = ctx;
    const leg = await this.legFor(db, peer, args.federated_rollout_id);
    let actor = actorOf(peer, ctx.onBehalfOf);
    let changed = true;
    if (args.action === 'set_barrier') {
      changed = await this.setBarrier(db, peer, leg, args.barrier_batch ?? null, actor, now);
    } else {
      const caller = await localCaller(db, peer, ctx.onBehalfOf);
      actor = actorOf(peer, caller.name);
      await this.rollouts.control(caller, leg.id, args.action, args.reason ?? `${args.action} from ${peer.name}`, db);
    }
    const status = (await this.legStatuses(db, [(await findRollout(db, leg.id))!], now))[0]!;
    await this.audit.append(
      peer.id,
      {
        actor,
        action: `federated_rollout.${args.action}`,
        payload: {
          federated_rollout_id: args.federated_rollout_id,
          rollout_id: leg.id,
          state: status.state,
          ...(args.action === 'set_barrier' ? { barrier_batch: args.barrier_batch ?? null, changed } : {}),
          ...(args.reason === undefined ? {} : { reason: args.reason }),
        },
      },
      db,
    );
    return status;
  }

  /** Moves the leg's barrier and advances it at once, so a raised barrier costs no reconciler tick. */
  private async setBarrier(
    db: Db,
    peer: FederationPeer,
    leg: Rollout,
    barrier: number | null,
    actor: string,
    now: Date,
  ): Promise<boolean> {
    if (leg.federationOriginPeerId !== peer.id) {
      throw new ForbiddenError(
        `only the platform that started federated rollout ${leg.federationRolloutRef ?? ''} can move its barrier; ${peer.name} did not start it`,
        {
          hint: 'the originating platform raises the barrier; pause, resume, rollback or abort the leg instead',
          details: { reason: 'not_origin', rollout_id: leg.id },
        },
      );
    }
    const locked = (await findRollout(db, leg.id, { forUpdate: true }))!;
    if (!isActiveRollout(locked.state) || locked.barrierBatch === barrier) return false;
    await updateRollout(db, leg.id, { barrierBatch: barrier }, now);
    await appendEvent(
      db,
      {
        kind: 'module.upgrade.barrier_set',
        actor,
        payload: { rollout_id: leg.id, from_barrier_batch: locked.barrierBatch, barrier_batch: barrier },
      },
      now,
    );
    await this.runner.advanceOne(db, leg.id, now);
    return true;
  }

  /** Status of each known leg, in the order asked; ids with no leg here are left out. */
  private async statuses(db: Db, peer: FederationPeer, ids: readonly string[], now: Date): Promise<LegStatus[]> {
    const unique = [...new Set(ids)];
    const found = await findPeerLegsByRefs(db, unique);
    const legs = unique.flatMap((id) => {
      const leg = preferred(found, id, peer);
      return leg === undefined ? [] : [leg];
    });
    return this.legStatuses(db, legs, now);
  }

  private async legStatuses(db: Db, legs: readonly Rollout[], now: Date): Promise<LegStatus[]> {
    const ids = legs.map((r) => r.id);
    const [completed, pending] = await Promise.all([completedBatchCounts(db, ids), pendingApprovalIds(db, ids)]);
    return legs.map((r) => legStatus(r, completed.get(r.id) ?? 0, pending.get(r.id) ?? [], now));
  }

  /** The leg of `federatedRolloutId` here: the calling peer's, else one another peer started. */
  private async legFor(db: Db, peer: FederationPeer, federatedRolloutId: string): Promise<Rollout> {
    const leg = preferred(await findPeerLegsByRefs(db, [federatedRolloutId]), federatedRolloutId, peer);
    if (leg === undefined) {
      throw new NotFoundError(`no leg of federated rollout ${federatedRolloutId} on this platform`, {
        hint: 'rollouts.start creates it; a start that was refused left nothing here',
      });
    }
    return leg;
  }

  /**
   * Tells each leg's origin what a runner tick changed (a batch completed, circuit_open, a final state).
   * Best effort, after the tick committed: a failure is logged and the origin's next status poll catches up.
   */
  async reportProgress(rolloutIds: readonly string[], now: Date): Promise<void> {
    const db = this.deps.db;
    const rows = await Promise.all(rolloutIds.map((id) => findRollout(db, id)));
    const legs = rows.filter((r): r is Rollout => r !== null && r.federationOriginPeerId !== null);
    if (legs.length === 0) return;
    const statuses = await this.legStatuses(db, legs, now);
    await Promise.all(
      legs.map(async (leg, i) => {
        const log = this.deps.logger.child({ rolloutId: leg.id, peerId: leg.federationOriginPeerId });
        try {
          const peer = await findPeerById(db, leg.federationOriginPeerId!);
          if (peer === null) return;
          const status = statuses[i]!;
          await this.calls.request(
            peer,
            LEG_OPERATIONS.progress,
            { ...status },
            { onBehalfOf: null, actor: 'reconciler' },
          );
        } catch (err) {
          log.info({ err }, 'leg progress not delivered to the originating platform; its status poll will catch up');
        }
      }),
    );
  }
}

/** Runs `fn` in `db` when it is a transaction (an outboxed call), else in a new one (a direct call). */
function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

/** The active local operator a call names: a leg runs as that operator, so its role and four-eyes apply. */
async function localCaller(db: Db, peer: FederationPeer, onBehalfOf: string | null): Promise<Caller> {
  const operator = onBehalfOf === null ? null : await findOperatorByName(db, onBehalfOf);
  if (operator === null || operator.revokedAt !== null) {
    throw new ForbiddenError(
      onBehalfOf === null
        ? `federation peer ${peer.name} asked for a rollout leg without naming an operator; a leg runs as a local operator`
        : `federation peer ${peer.name} asked for a rollout leg on behalf of ${onBehalfOf}, who is not an active operator here`,
      {
        hint: `ask an admin of this platform to create operator ${onBehalfOf ?? 'NAME'} with the operator role`,
        details: { reason: onBehalfOf === null ? 'no_operator' : 'unknown_operator', operator: onBehalfOf },
      },
    );
  }
  return { operatorId: operator.id, name: operator.name, role: operator.role };
}

function preferred(legs: readonly Rollout[], federatedRolloutId: string, peer: FederationPeer): Rollout | undefined {
  const matching = legs.filter((r) => r.federationRolloutRef === federatedRolloutId);
  return matching.find((r) => r.federationOriginPeerId === peer.id) ?? matching[matching.length - 1];
}

function actorOf(peer: FederationPeer, operator: string | null): string {
  return operator === null ? `peer:${peer.name}` : `peer:${peer.name}/${operator}`;
}
