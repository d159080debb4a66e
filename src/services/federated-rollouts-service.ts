// Federated rollouts, the originating side: an admin creates one rollout across registered peers (and
// this platform), each target peer plans and runs its own leg under its own policies; this platform
// prechecks every target first, queues each start through the outbox, coordinates the legs (the
// synchronized barrier, FederatedRolloutSync) and relays operator controls to every leg exactly once.
import {
  barrierOnSynchronize,
  CONTROL_SOURCES,
  isTerminalLeg,
  isTerminalRollout,
  legReportSchema,
  precheckAnswerSchema,
  precheckProblem,
  waitingReasons,
  type Coordination,
  type FederatedControlAction,
  type FederatedLeg,
  type FederatedRollout,
  type FederatedRolloutState,
  type LegReport,
  type PrecheckAnswer,
} from '../domain/federated-rollout.js';
import type { FederationPeer } from '../domain/federation.js';
import { isUuid } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import { strategyProblem, type Strategy } from '../domain/strategy.js';
import {
  ConflictError,
  FlotillaError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  ResidencyViolationError,
} from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  countLegStates,
  findFederatedRollout,
  insertFederatedRollout,
  insertLeg,
  listFederatedRollouts,
  listLegs,
  updateFederatedRollout,
  updateLeg,
} from '../store/federated-rollouts-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import { findRollout } from '../store/rollouts-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import { reportPatch, type FederatedRolloutSync } from './federated-rollout-sync.js';
import type { FederationService } from './federation-service.js';
import { requireRole } from './operators-service.js';
import type { PeerCalls } from './peer-calls.js';
import type { RolloutsService } from './rollouts-service.js';

/** The name a caller may use for this platform's own leg in per_peer_group and pause_peer. */
export const LOCAL_LEG = 'local';

export interface CreateFederatedRollout {
  moduleName?: string;
  moduleId?: string;
  targetVersion: string;
  peers: string[];
  includeLocal: boolean;
  group: string;
  perPeerGroup: Record<string, string>;
  strategy: Strategy;
  coordination: Coordination;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
}

export interface FederatedRolloutView {
  rollout: FederatedRollout;
  legs: FederatedLeg[];
  /** Why it is not moving, one line per waiting leg. */
  waiting: string[];
}

export interface LegOutcome {
  leg: FederatedLeg;
  /** queued: through the outbox to its peer; applied: the local leg, done; skipped: not applicable now. */
  outcome: 'queued' | 'applied' | 'skipped';
  detail: string;
}

export interface ControlInput {
  action: FederatedControlAction;
  federationPeerRef?: string;
  coordination?: Coordination;
  reason?: string;
}

interface Target {
  peer: FederationPeer | null;
  name: string;
  group: string;
}

export class FederatedRolloutsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly federation: FederationService,
    private readonly rollouts: RolloutsService,
    private readonly audit: AuditService,
    private readonly sync: FederatedRolloutSync,
    private readonly self: {
      name: string;
      /** The same questions a peer answers for `rollouts.precheck`, asked of this platform. */
      precheck(db: Db, args: { module_name: string; target_version: string; group: string }): Promise<PrecheckAnswer>;
    },
  ) {}

  /** Registers `rollouts.leg_progress` and the outbox hooks of starts and controls. */
  attach(calls: PeerCalls): void {
    calls.register<LegReport>({
      name: 'rollouts.leg_progress',
      capability: null,
      residencyKinds: [],
      args: legReportSchema,
      handle: ({ db, peer, args, idempotencyKey }) => this.sync.progress(db, peer, args, idempotencyKey !== null),
    });
    calls.onSettled('rollouts.start', (trx, entry, outcome) => this.sync.startSettled(trx, entry, outcome));
    calls.onSettled('rollouts.control', (trx, entry, outcome) => this.sync.controlSettled(trx, entry, outcome));
  }

  /** The reconciler step. */
  /** This platform's runner moved some of its rollouts (a local leg's progress reaches its federated rollout now). */
  localProgress(rolloutIds: readonly string[], now: Date): Promise<void> {
    return this.sync.localProgress(rolloutIds, now);
  }

  tick(now: Date): Promise<number> {
    return this.sync.tick(now);
  }

  // ---- create -----------------------------------------------------------------------------------

  /** Prechecks every target, then records the rollout, its legs and each peer's start in one transaction. */
  async create(caller: Caller, input: CreateFederatedRollout): Promise<FederatedRolloutView> {
    requireRole(caller, 'admin', 'creating a federated rollout');
    const problem = strategyProblem(input.strategy);
    if (problem !== null) throw new InvalidInputError(problem);
    const { moduleName, moduleId, targetVersion } = await this.resolveModule(input);
    const targets = await this.resolveTargets(input);
    await this.precheck(caller, targets, moduleName, targetVersion);
    // The starts are queued in one transaction, where a residency refusal would roll back with its audit:
    // checked first (a start carries the module, version and group the precheck did, and more).
    for (const t of targets) {
      if (t.peer === null) continue;
      const args = { module_name: moduleName, target_version: targetVersion, group: t.group };
      await this.federation.calls.preflight(t.peer, 'rollouts.start', args);
    }

    const synchronized = input.coordination === 'synchronized';
    const id = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const rollout = await insertFederatedRollout(trx, {
        moduleName,
        moduleId,
        targetVersion,
        groupName: input.group,
        strategy: input.strategy,
        coordination: input.coordination,
        maxConsecutiveFailures: input.maxConsecutiveFailures,
        healthTimeoutSec: input.healthTimeoutSec,
        includeLocal: input.includeLocal,
        barrierBatch: synchronized ? 0 : null,
        createdBy: caller.name,
        at: now,
      });
      for (const t of targets) {
        if (t.peer === null) {
          await insertLeg(trx, {
            federatedRolloutId: rollout.id,
            federationPeerId: null,
            peerName: t.name,
            groupName: t.group,
            startOutboxId: null,
            at: now,
          });
          continue;
        }
        const entry = await this.federation.calls.enqueue(
          trx,
          t.peer,
          'rollouts.start',
          {
            federated_rollout_id: rollout.id,
            module_name: moduleName,
            target_version: targetVersion,
            group: t.group,
            strategy: input.strategy,
            max_consecutive_failures: input.maxConsecutiveFailures,
            health_timeout_sec: input.healthTimeoutSec,
            barrier_batch: synchronized ? 0 : null,
          },
          { onBehalfOf: caller.name, actor: caller.name },
        );
        const leg = await insertLeg(trx, {
          federatedRolloutId: rollout.id,
          federationPeerId: t.peer.id,
          peerName: t.peer.name,
          groupName: t.group,
          startOutboxId: entry.id,
          at: now,
        });
        await this.sync.auditLeg(trx, leg, caller.name, 'start', {
          federated_rollout_id: rollout.id,
          module_name: moduleName,
          target_version: targetVersion,
          group: t.group,
          coordination: input.coordination,
          outbox_id: entry.id,
        });
      }
      await appendEvent(
        trx,
        {
          kind: 'federation.rollout_initiated',
          actor: caller.name,
          payload: {
            federated_rollout_id: rollout.id,
            module_name: moduleName,
            target_version: targetVersion,
            group: input.group,
            peers: targets.map((t) => ({ peer: t.name, group: t.group, local: t.peer === null })),
            include_local: input.includeLocal,
            coordination: input.coordination,
            strategy: input.strategy,
          },
        },
        now,
      );
      return rollout.id;
    });

    const local = targets.find((t) => t.peer === null);
    if (local !== undefined) await this.planLocalLeg(caller, id, input, moduleName, targetVersion, local.group);
    return this.get(id);
  }

  /** Plans this platform's own leg as the caller; a refusal fails the leg with its reason. */
  private async planLocalLeg(
    caller: Caller,
    id: string,
    input: CreateFederatedRollout,
    moduleName: string,
    targetVersion: string,
    group: string,
  ): Promise<void> {
    const legs = await listLegs(this.deps.db, id);
    const leg = legs.find((l) => l.federationPeerId === null)!;
    let patch: Parameters<typeof updateLeg>[2];
    try {
      const plan = await this.rollouts.plan(
        caller,
        {
          group: { groupName: group },
          module: { moduleName },
          targetVersionRef: targetVersion,
          strategy: input.strategy,
          maxConsecutiveFailures: input.maxConsecutiveFailures,
          healthTimeoutSec: input.healthTimeoutSec,
          maxFailurePct: null,
          minSample: null,
          soakSec: 0,
          federationRolloutRef: id,
          barrierBatch: input.coordination === 'synchronized' ? 0 : null,
        },
        false,
      );
      patch = {
        localRolloutId: plan.rolloutId,
        state: plan.state === 'pending_approval' ? 'pending_approval' : 'running',
        batchCount: plan.batchCount,
        pendingApprovalIds: plan.approvalRequestId === null ? [] : [plan.approvalRequestId],
      };
    } catch (err) {
      if (!(err instanceof FlotillaError)) throw err;
      patch = { state: 'failed', lastError: `planning the local leg failed: ${err.message}` };
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      await findFederatedRollout(trx, id, { forUpdate: true }); // the rollout row before its legs, as every writer
      await updateLeg(trx, leg.id, patch, now);
      await this.sync.refresh(trx, id, now);
    });
  }

  private async resolveModule(
    input: CreateFederatedRollout,
  ): Promise<{ moduleName: string; moduleId: string | null; targetVersion: string }> {
    if ((input.moduleName === undefined) === (input.moduleId === undefined)) {
      throw new InvalidInputError('give exactly one of module_name or module_id', {
        hint: 'module_name is what every peer matches; module_id must be a module of this platform',
      });
    }
    const db = this.deps.db;
    const module =
      input.moduleId !== undefined
        ? isUuid(input.moduleId)
          ? await findModule(db, { id: input.moduleId })
          : null
        : await findModule(db, { name: input.moduleName! });
    if (module === null && input.moduleId !== undefined) {
      throw new NotFoundError(`no module with id ${input.moduleId} on this platform`, {
        hint: 'pass module_name: peers match modules by name',
      });
    }
    const moduleName = module?.name ?? input.moduleName!;
    let targetVersion = input.targetVersion;
    if (isUuid(targetVersion)) {
      // An id only means something here: peers get the version string.
      const version = await findVersion(db, { id: targetVersion });
      if (version === null || (module !== null && version.moduleId !== module.id)) {
        throw new NotFoundError(`no version ${targetVersion} of ${moduleName} on this platform`, {
          hint: 'pass the version string (e.g. 1.26.0): peers match versions by their string',
        });
      }
      targetVersion = version.version;
    }
    return { moduleName, moduleId: module?.id ?? null, targetVersion };
  }

  /** Every target by the name given: active registered peers only, no duplicates, and the local leg. */
  private async resolveTargets(input: CreateFederatedRollout): Promise<Target[]> {
    const targets: Target[] = [];
    const seen = new Map<string, string>();
    for (const ref of input.peers) {
      let peer: FederationPeer;
      try {
        peer = await this.federation.resolve(ref);
      } catch (err) {
        if (err instanceof NotFoundError) {
          throw new NotFoundError(`no federation peer ${ref}: federated rollouts target registered peers only`, {
            hint: 'list_federation_peers shows the peers this platform registered; a peer of a peer cannot be targeted',
            details: { peer: ref },
          });
        }
        throw err;
      }
      if (peer.status !== 'active') {
        throw new ConflictError(`federation peer ${ref} is ${peer.status}; a federated rollout needs active peers`, {
          hint: 'list_federation_peers shows each peering’s status; leave it out or wait until it is active again',
          details: { peer: ref, status: peer.status },
        });
      }
      const before = seen.get(peer.id);
      if (before !== undefined) {
        throw new InvalidInputError(`peers names ${peer.name} twice (${before} and ${ref})`, {
          details: { peer: ref },
        });
      }
      seen.set(peer.id, ref);
      targets.push({ peer, name: peer.name, group: input.group });
    }
    if (input.includeLocal) targets.unshift({ peer: null, name: this.self.name, group: input.group });
    if (targets.length === 0) {
      throw new InvalidInputError('a federated rollout needs at least one target: peers, or include_local', {
        hint: 'list peers by id or name, or set include_local: true',
      });
    }
    for (const [ref, group] of Object.entries(input.perPeerGroup)) {
      const target = await this.targetFor(ref, targets);
      if (target === undefined) {
        throw new InvalidInputError(`per_peer_group names ${ref}, which is not a target of this rollout`, {
          hint: `keys are the peers given in peers (by id or name), or ${LOCAL_LEG} for this platform`,
          details: { peer: ref },
        });
      }
      target.group = group;
    }
    return targets;
  }

  private async targetFor(ref: string, targets: Target[]): Promise<Target | undefined> {
    if (ref === LOCAL_LEG || ref === this.self.name) {
      const local = targets.find((t) => t.peer === null);
      if (local !== undefined) return local;
    }
    const byName = targets.find((t) => t.peer !== null && (t.peer.id === ref || t.peer.name === ref));
    if (byName !== undefined) return byName;
    const peer = await this.federation.resolve(ref).catch(() => null);
    return peer === null ? undefined : targets.find((t) => t.peer?.id === peer.id);
  }

  /**
   * Asks every peer (in parallel) and this platform whether it can take its leg; refuses naming each that
   * cannot. A peer whose authorization refuses the caller is not a precheck problem: that leg fails.
   */
  private async precheck(caller: Caller, targets: Target[], moduleName: string, targetVersion: string) {
    const problems = await Promise.all(
      targets.map(async (t): Promise<{ peer: string; problem: string } | null> => {
        const want = { moduleName, targetVersion, group: t.group };
        let answer: PrecheckAnswer;
        if (t.peer === null) {
          answer = await this.self.precheck(this.deps.db, {
            module_name: moduleName,
            target_version: targetVersion,
            group: t.group,
          });
        } else {
          try {
            const raw = await this.federation.calls.request(
              t.peer,
              'rollouts.precheck',
              { module_name: moduleName, target_version: targetVersion, group: t.group },
              { onBehalfOf: caller.name, actor: caller.name },
            );
            const parsed = precheckAnswerSchema.safeParse(raw);
            if (!parsed.success) return { peer: t.name, problem: 'its precheck answer was not understood' };
            answer = parsed.data;
          } catch (err) {
            if (!(err instanceof FlotillaError)) throw err;
            // Residency keeps the rollout from this peer: refused before a byte left (and audited).
            if (err instanceof ResidencyViolationError) throw err;
            // The peer's own authorization refused the caller (unknown there, or a role it lacks): the
            // leg is still requested, so its start carries the name and fails there with the reason.
            if (err instanceof ForbiddenError) return null;
            return { peer: t.name, problem: `precheck failed: ${err.message}` };
          }
        }
        const problem = precheckProblem(answer, want);
        return problem === null ? null : { peer: t.name, problem };
      }),
    );
    const failed = problems.filter((p) => p !== null);
    if (failed.length > 0) {
      throw new ConflictError(
        `cannot start ${moduleName} ${targetVersion} on ${failed.map((p) => p.peer).join(', ')}: ` +
          failed.map((p) => `${p.peer}: ${p.problem}`).join('; '),
        {
          hint: 'publish the same version on every target peer (configuration is never pushed across peers), fix the group names (per_peer_group), or leave those peers out; nothing was created',
          details: { problems: failed },
        },
      );
    }
  }

  // ---- read -------------------------------------------------------------------------------------

  async get(id: string, db: Db = this.deps.db): Promise<FederatedRolloutView> {
    const rollout = isUuid(id) ? await findFederatedRollout(db, id) : null;
    if (rollout === null) {
      throw new NotFoundError(`no federated rollout ${id}`, { hint: 'list_federated_rollouts shows them' });
    }
    const legs = await listLegs(db, id);
    return { rollout, legs, waiting: waitingReasons(legs) };
  }

  async list(f: {
    state?: FederatedRolloutState;
    limit: number;
    cursor?: string;
  }): Promise<Page<FederatedRollout & { legStates: Record<string, number> }>> {
    const before = f.cursor === undefined ? undefined : decodeTimeIdCursor(f.cursor);
    const rows = await listFederatedRollouts(this.deps.db, {
      limit: f.limit,
      ...(f.state === undefined ? {} : { state: f.state }),
      ...(before === undefined ? {} : { before }),
    });
    const counts = await countLegStates(
      this.deps.db,
      rows.map((r) => r.id),
    );
    const withCounts = rows.map((r) => ({ ...r, legStates: counts.get(r.id) ?? {} }));
    return toPage(withCounts, f.limit, (r) => ({ created_at: r.createdAt.toISOString(), id: r.id }));
  }

  // ---- control ----------------------------------------------------------------------------------

  /**
   * pause / pause_peer / resume / rollback / abort every applicable leg (remote legs through the outbox,
   * applied once there; the local leg directly), or switch coordination. One transaction; refusals write
   * nothing.
   */
  async control(
    caller: Caller,
    id: string,
    input: ControlInput,
  ): Promise<FederatedRolloutView & { outcomes: LegOutcome[] }> {
    requireRole(caller, 'admin', `${input.action} of a federated rollout`);
    const current = await this.get(id);
    if (isTerminalRollout(current.rollout.state)) {
      throw new ConflictError(`federated rollout ${id} is ${current.rollout.state}; it takes no more controls`, {
        details: { state: current.rollout.state },
      });
    }
    const only = input.action === 'pause_peer' ? await this.legFor(current.legs, input.federationPeerRef) : null;
    if (input.action !== 'pause_peer' && input.federationPeerRef !== undefined) {
      throw new InvalidInputError('federation_peer_id only goes with pause_peer');
    }
    if (input.action === 'set_coordination') {
      if (input.coordination === undefined) {
        throw new InvalidInputError('set_coordination needs coordination: independent or synchronized');
      }
      if (input.coordination === current.rollout.coordination) {
        throw new ConflictError(`federated rollout ${id} is already ${input.coordination}`);
      }
    } else if (input.coordination !== undefined) {
      throw new InvalidInputError('coordination only goes with set_coordination');
    }
    if (current.rollout.state !== 'running' && input.action !== 'abort') {
      throw new ConflictError(`federated rollout ${id} is ${current.rollout.state}; only abort applies now`, {
        details: { state: current.rollout.state },
      });
    }

    const outcomes = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const rollout = (await findFederatedRollout(trx, id, { forUpdate: true }))!;
      const legs = await listLegs(trx, id);
      const results =
        input.action === 'set_coordination'
          ? await this.switchCoordination(trx, caller, rollout, legs, input.coordination!, now)
          : await this.relay(trx, caller, rollout, only === null ? legs : [only], input, now);
      if (input.action === 'rollback' || input.action === 'abort') {
        await updateFederatedRollout(
          trx,
          id,
          {
            state: input.action === 'rollback' ? 'rolling_back' : 'aborting',
            reason: input.reason ?? `${input.action} by ${caller.name}`,
          },
          now,
        );
      }
      await appendEvent(
        trx,
        {
          kind: `federation.rollout.${input.action}`,
          actor: caller.name,
          payload: {
            federated_rollout_id: id,
            reason: input.reason ?? null,
            ...(input.coordination === undefined ? {} : { coordination: input.coordination }),
            legs: results.map((r) => ({ peer: r.leg.peerName, outcome: r.outcome, detail: r.detail })),
          },
        },
        now,
      );
      await this.sync.refresh(trx, id, now);
      return results;
    });
    const view = await this.get(id);
    return {
      ...view,
      outcomes: outcomes.map((o) => ({ ...o, leg: view.legs.find((l) => l.id === o.leg.id) ?? o.leg })),
    };
  }

  private async legFor(legs: FederatedLeg[], ref: string | undefined): Promise<FederatedLeg> {
    if (ref === undefined) {
      throw new InvalidInputError('pause_peer needs federation_peer_id: the peer whose leg to pause', {
        hint: `get_federated_rollout lists the legs; ${LOCAL_LEG} names this platform’s own leg`,
      });
    }
    const direct = legs.find(
      (l) =>
        (l.federationPeerId !== null && (l.federationPeerId === ref || l.peerName === ref)) ||
        (l.federationPeerId === null && (ref === LOCAL_LEG || ref === this.self.name)),
    );
    if (direct !== undefined) return direct;
    const peer = await this.federation.resolve(ref).catch(() => null);
    const leg = peer === null ? undefined : legs.find((l) => l.federationPeerId === peer.id);
    if (leg === undefined) {
      throw new NotFoundError(`federated rollout has no leg on ${ref}`, {
        hint: 'get_federated_rollout lists the legs with their federation_peer_id',
        details: { peer: ref },
      });
    }
    return leg;
  }

  /** pause / pause_peer / resume / rollback / abort on each leg whose state allows it. */
  private async relay(
    trx: Db,
    caller: Caller,
    rollout: FederatedRollout,
    legs: FederatedLeg[],
    input: ControlInput,
    now: Date,
  ): Promise<LegOutcome[]> {
    const base = input.action === 'pause_peer' ? 'pause' : (input.action as 'pause' | 'resume' | 'rollback' | 'abort');
    const results: LegOutcome[] = [];
    for (const leg of legs) {
      // A leg not started there yet: its start's settlement sends the stop (rollback/abort) after it.
      let action: 'pause' | 'resume' | 'rollback' | 'abort' | null = CONTROL_SOURCES[base].includes(leg.state)
        ? base
        : null;
      if (action === null && base === 'rollback' && leg.state === 'pending_approval') action = 'abort';
      if (leg.federationPeerId === null && leg.localRolloutId !== null && action !== null) {
        // The local leg's own rollout decides: read it in this transaction.
        const local = await findRollout(trx, leg.localRolloutId, { forUpdate: true });
        const state = local === null ? null : local.state;
        if (state === null || !CONTROL_SOURCES[action].includes(state as never)) action = null;
      }
      if (action === null) {
        const later = leg.state === 'requested' && (base === 'rollback' || base === 'abort');
        results.push({
          leg,
          outcome: 'skipped',
          detail: later
            ? `${leg.peerName} has not started its leg yet: it is stopped as soon as it starts`
            : `${leg.peerName}'s leg is ${leg.state}: ${base} does not apply`,
        });
        continue;
      }
      const reason = input.reason ?? `${input.action} of federated rollout ${rollout.id} by ${caller.name}`;
      if (leg.federationPeerId === null) {
        const after = await this.rollouts.control(caller, leg.localRolloutId!, action, reason, trx);
        const report = await this.sync.localReport(trx, rollout.id, { ...leg, localRolloutId: after.id });
        await updateLeg(trx, leg.id, reportPatch(report), now);
        results.push({ leg, outcome: 'applied', detail: `${action} applied here: the leg is ${after.state}` });
        continue;
      }
      const peer = await livePeer(trx, leg);
      const entry = await this.federation.calls.enqueue(
        trx,
        peer,
        'rollouts.control',
        { federated_rollout_id: rollout.id, action, reason },
        { onBehalfOf: caller.name, actor: caller.name },
      );
      await this.sync.auditLeg(trx, leg, caller.name, input.action, {
        federated_rollout_id: rollout.id,
        action,
        reason,
        outbox_id: entry.id,
      });
      results.push({ leg, outcome: 'queued', detail: `${action} queued for ${peer.name} (outbox ${entry.id})` });
    }
    if (results.every((r) => r.outcome === 'skipped')) {
      const states = legs.map((l) => `${l.peerName}: ${l.state}`).join(', ');
      throw new ConflictError(`no leg of federated rollout ${rollout.id} can ${input.action} now (${states})`, {
        hint: `${base} applies to legs that are ${CONTROL_SOURCES[base].join(' or ')}; get_federated_rollout shows each leg`,
        details: { legs: legs.map((l) => ({ peer: l.peerName, state: l.state })) },
      });
    }
    return results;
  }

  /** independent → synchronized (barrier at the lowest current batch) or back (no barrier), on every live leg. */
  private async switchCoordination(
    trx: Db,
    caller: Caller,
    rollout: FederatedRollout,
    legs: FederatedLeg[],
    coordination: Coordination,
    now: Date,
  ): Promise<LegOutcome[]> {
    const barrier = coordination === 'synchronized' ? barrierOnSynchronize(legs) : null;
    await updateFederatedRollout(trx, rollout.id, { coordination, barrierBatch: barrier }, now);
    const results: LegOutcome[] = [];
    for (const leg of legs) {
      if (isTerminalLeg(leg.state) || leg.state === 'rolling_back') {
        results.push({ leg, outcome: 'skipped', detail: `${leg.peerName}'s leg is ${leg.state}` });
        continue;
      }
      if (leg.state === 'requested') {
        // Its start may still be on its way: the next status poll corrects its barrier once it runs.
        results.push({ leg, outcome: 'skipped', detail: `${leg.peerName} has not started its leg yet` });
        continue;
      }
      const what = barrier === null ? 'barrier lifted' : `barrier at batch ${barrier}`;
      if (leg.federationPeerId === null) {
        if (leg.localRolloutId !== null) await this.sync.setLocalBarrier(trx, leg.localRolloutId, barrier);
        results.push({ leg, outcome: 'applied', detail: `${what} here` });
        continue;
      }
      const peer = await livePeer(trx, leg);
      const entry = await this.federation.calls.enqueue(
        trx,
        peer,
        'rollouts.control',
        { federated_rollout_id: rollout.id, action: 'set_barrier', barrier_batch: barrier },
        { onBehalfOf: caller.name, actor: caller.name },
      );
      await this.sync.auditLeg(trx, leg, caller.name, 'set_coordination', {
        federated_rollout_id: rollout.id,
        coordination,
        barrier_batch: barrier,
        outbox_id: entry.id,
      });
      results.push({ leg, outcome: 'queued', detail: `${what}: queued for ${peer.name} (outbox ${entry.id})` });
    }
    return results;
  }
}

/** A leg's peer row, read in the caller's transaction (on PGlite the store's handle would wait forever). */
async function livePeer(trx: Db, leg: FederatedLeg): Promise<FederationPeer> {
  const peer = await findPeerById(trx, leg.federationPeerId!);
  if (peer === null) throw new NotFoundError(`federation peer ${leg.peerName} no longer exists`);
  return peer;
}
