// Keeps the originating platform's view of a federated rollout's legs current and raises the
// synchronized barrier: each reconciler tick asks every peer once for all its legs (`rollouts.status`)
// and reads local legs directly; targets also push a leg's progress (`rollouts.leg_progress`) and
// outbox settlements report starts and controls. Peer calls are never made inside a transaction.
import {
  gatedLegs,
  isTerminalLeg,
  legReportSchema,
  legStateOf,
  legWaitingFor,
  nextBarrier,
  overallState,
  startAnswerSchema,
  statusAnswerSchema,
  type FederatedLeg,
  type FederatedRollout,
  type LegReport,
} from '../domain/federated-rollout.js';
import type { FederationPeer } from '../domain/federation.js';
import { isActiveRollout } from '../domain/rollout-state.js';
import { FlotillaError, NotFoundError, UnavailableError } from '../errors.js';
import type { Clock } from '../scheduler/clock.js';
import type { RolloutRunner } from '../scheduler/rollout-runner.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  findFederatedRollout,
  findLegByPeer,
  findLegByStartOutbox,
  findLocalLegsByRollouts,
  listLegs,
  listLiveFederatedRollouts,
  raiseBarrier,
  updateFederatedRollout,
  updateLeg,
  type LegPatch,
} from '../store/federated-rollouts-repository.js';
import type { OutboxEntry } from '../store/peer-calls-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import { findRollout, updateRollout } from '../store/rollouts-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { FederationService } from './federation-service.js';
import type { RolloutsService } from './rollouts-service.js';

/** Rollouts coordinated per tick; the rest wait for the next tick. */
const MAX_PER_TICK = 100;
const ACTOR = 'reconciler';

/** Sets a local rollout's barrier and advances it at once (the target side's runner rule). */
export type LocalBarrierSetter = (trx: Db, rolloutId: string, barrier: number | null) => Promise<void>;

/** The local leg's barrier, set in the caller's transaction, and the runner's step for it run at once. */
export function localBarrierSetter(runner: Pick<RolloutRunner, 'advanceOne'>, clock: Clock): LocalBarrierSetter {
  return async (trx, rolloutId, barrier) => {
    const now = clock.now();
    const locked = await findRollout(trx, rolloutId, { forUpdate: true });
    if (locked === null || !isActiveRollout(locked.state) || locked.barrierBatch === barrier) return;
    await updateRollout(trx, rolloutId, { barrierBatch: barrier }, now);
    await appendEvent(
      trx,
      {
        kind: 'module.upgrade.barrier_set',
        actor: 'federation',
        payload: { rollout_id: rolloutId, from_barrier_batch: locked.barrierBatch, barrier_batch: barrier },
      },
      now,
    );
    await runner.advanceOne(trx, rolloutId, now);
  };
}

/** A leg as its platform last reported it, or why it could not be asked. */
type Observation =
  | { kind: 'report'; report: LegReport }
  | { kind: 'answered' }
  | { kind: 'refused'; message: string }
  | { kind: 'unreachable'; message: string };

export class FederatedRolloutSync {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly federation: FederationService,
    private readonly rollouts: RolloutsService,
    private readonly audit: AuditService,
    /** Sets a local leg's barrier and advances it, in the caller's transaction. */
    readonly setLocalBarrier: LocalBarrierSetter,
  ) {}

  // ---- the reconciler step ----------------------------------------------------------------------

  /** One tick: poll every peer once for its legs, read local legs, update, raise barriers, settle states. */
  async tick(now: Date): Promise<number> {
    const rollouts = await listLiveFederatedRollouts(this.deps.db, MAX_PER_TICK);
    if (rollouts.length === 0) return 0;
    const legsOf = new Map<string, FederatedLeg[]>();
    for (const r of rollouts) legsOf.set(r.id, await listLegs(this.deps.db, r.id));
    const polledAt = this.deps.clock.now();
    const observed = await this.pollPeers(rollouts, legsOf);
    for (const r of rollouts) {
      for (const leg of legsOf.get(r.id)!) {
        if (leg.federationPeerId === null && leg.localRolloutId !== null && !isTerminalLeg(leg.state)) {
          observed.set(leg.id, { kind: 'report', report: await this.localReport(this.deps.db, r.id, leg) });
        }
      }
    }
    for (const r of rollouts) {
      const raised = await this.deps.db.transaction().execute(async (trx) => {
        await findFederatedRollout(trx, r.id, { forUpdate: true });
        for (const leg of await listLegs(trx, r.id)) {
          const o = observed.get(leg.id);
          if (o === undefined) continue;
          // The leg's platform reported it (a push, a control's answer, a settlement) while the poll was out:
          // the poll may have seen less, and applied it would move the leg back, so a barrier the last push
          // should raise would wait for the next tick. Contact only; the next poll reads it again.
          const heardSince = leg.lastContactAt !== null && leg.lastContactAt > polledAt;
          if (o.kind === 'report' && leg.federationPeerId !== null && heardSince) {
            observed.set(leg.id, { kind: 'answered' });
            await this.applyObservation(trx, leg, { kind: 'answered' }, now);
            continue;
          }
          await this.applyObservation(trx, leg, o, now);
        }
        return this.refresh(trx, r.id, now);
      });
      await this.propagateBarrier(r.id, raised, observed, polledAt);
    }
    return rollouts.length;
  }

  /** One `rollouts.status` call per peer (and operator acting) for all its live legs, in parallel. */
  private async pollPeers(
    rollouts: readonly FederatedRollout[],
    legsOf: Map<string, FederatedLeg[]>,
  ): Promise<Map<string, Observation>> {
    const batches = new Map<string, { peerId: string; onBehalfOf: string; legs: FederatedLeg[] }>();
    for (const r of rollouts) {
      for (const leg of legsOf.get(r.id)!) {
        if (leg.federationPeerId === null || isTerminalLeg(leg.state)) continue;
        const key = `${leg.federationPeerId}\u0000${r.createdBy}`;
        const batch = batches.get(key) ?? { peerId: leg.federationPeerId, onBehalfOf: r.createdBy, legs: [] };
        batch.legs.push(leg);
        batches.set(key, batch);
      }
    }
    const out = new Map<string, Observation>();
    await Promise.all(
      [...batches.values()].map(async ({ peerId, onBehalfOf, legs }) => {
        const peer = await findPeerById(this.deps.db, peerId);
        const ids = [...new Set(legs.map((l) => l.federatedRolloutId))];
        let observation: (leg: FederatedLeg) => Observation;
        try {
          const answer = await this.askStatus(peer, ids, onBehalfOf);
          const byId = new Map(answer.map((report) => [report.federated_rollout_id, report]));
          observation = (leg) => {
            const report = byId.get(leg.federatedRolloutId);
            return report === undefined ? { kind: 'answered' } : { kind: 'report', report };
          };
        } catch (err) {
          if (!(err instanceof FlotillaError)) throw err;
          const kind = err instanceof UnavailableError ? 'unreachable' : 'refused';
          observation = () => ({ kind, message: err.message });
        }
        for (const leg of legs) out.set(leg.id, observation(leg));
      }),
    );
    return out;
  }

  private async askStatus(peer: FederationPeer | null, ids: string[], onBehalfOf: string): Promise<LegReport[]> {
    if (peer === null || peer.status === 'revoked') {
      throw new UnavailableError(`federation peer ${peer?.name ?? 'unknown'} is revoked`);
    }
    const answer = await this.federation.calls.request(
      peer,
      'rollouts.status',
      { federated_rollout_ids: ids },
      { onBehalfOf, actor: ACTOR, audited: false },
    );
    const parsed = statusAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new UnavailableError(`federation peer ${peer.name} answered rollouts.status oddly`);
    return parsed.data.legs;
  }

  /** The local leg read from this platform's own rollout, in the shape a peer reports. */
  async localReport(db: Db, federatedRolloutId: string, leg: FederatedLeg): Promise<LegReport> {
    const { rollout, batches } = await this.rollouts.get(leg.localRolloutId!, db);
    const asking = rollout.state === 'pending_approval' || rollout.state === 'circuit_open';
    return {
      federated_rollout_id: federatedRolloutId,
      rollout_id: rollout.id,
      state: rollout.state,
      current_batch: rollout.currentBatch,
      batch_count: rollout.batchCount,
      completed_batches: batches.filter((b) => b.phase === 'completed').length,
      healthy_total: rollout.healthyTotal,
      failed_total: rollout.failedTotal,
      pending_approval_ids: asking && rollout.approvalRequestId !== null ? [rollout.approvalRequestId] : [],
      barrier_batch: rollout.barrierBatch,
      waiting_for: null,
    };
  }

  private async applyObservation(trx: Db, leg: FederatedLeg, o: Observation, now: Date): Promise<void> {
    switch (o.kind) {
      case 'report':
        return updateLeg(trx, leg.id, { ...reportPatch(o.report), ...contact(leg, now) }, now);
      case 'answered':
        return updateLeg(trx, leg.id, contact(leg, now), now);
      case 'refused':
        return updateLeg(trx, leg.id, { ...contact(leg, now), lastError: o.message }, now);
      case 'unreachable':
        if (leg.lostContact) return;
        this.deps.logger.warn({ legId: leg.id, peer: leg.peerName }, 'federated rollout leg lost contact');
        return updateLeg(trx, leg.id, { lostContact: true }, now);
    }
  }

  // ---- pushed progress and outbox settlements ---------------------------------------------------

  /**
   * `rollouts.leg_progress` from the leg's own peer. Outside a transaction (a plain request), the barrier
   * is raised with immediate calls; inside one (an outboxed call) only the outbox is used.
   */
  async progress(db: Db, peer: FederationPeer, report: LegReport, inTransaction: boolean): Promise<unknown> {
    const now = this.deps.clock.now();
    const apply = async (trx: Db): Promise<{ raised: number | null; barrier: number | null }> => {
      const locked = await findFederatedRollout(trx, report.federated_rollout_id, { forUpdate: true });
      const leg = locked === null ? null : await findLegByPeer(trx, report.federated_rollout_id, peer.id);
      // A peer reports its own leg only: the one it runs for this rollout, under the rollout id it gave.
      if (leg === null || (leg.localRolloutId !== null && leg.localRolloutId !== report.rollout_id)) {
        throw new NotFoundError(
          `no leg of federated rollout ${report.federated_rollout_id} runs as rollout ${report.rollout_id} on ${peer.name}`,
          { hint: 'a platform reports the progress of the legs it runs, under their own rollout ids' },
        );
      }
      await updateLeg(trx, leg.id, { ...reportPatch(report), ...contact(leg, now) }, now);
      const raised = await this.refresh(trx, report.federated_rollout_id, now);
      if (inTransaction && raised !== null) await this.enqueueBarrier(trx, report.federated_rollout_id, raised);
      const rollout = await findFederatedRollout(trx, report.federated_rollout_id);
      return { raised, barrier: rollout?.barrierBatch ?? null };
    };
    const result = inTransaction ? await apply(db) : await this.deps.db.transaction().execute(apply);
    if (!inTransaction) await this.propagateBarrier(report.federated_rollout_id, result.raised, new Map());
    return { accepted: true, barrier_batch: result.barrier };
  }

  /**
   * The runner moved rollouts of this platform: a local leg among them updates its federated rollout
   * now, as a peer's push would, so a barrier the local leg was the last to reach is raised at once.
   */
  async localProgress(rolloutIds: readonly string[], now: Date): Promise<void> {
    for (const leg of await findLocalLegsByRollouts(this.deps.db, rolloutIds)) {
      const raised = await this.deps.db.transaction().execute(async (trx) => {
        const rollout = await findFederatedRollout(trx, leg.federatedRolloutId, { forUpdate: true });
        if (rollout === null || rollout.state !== 'running') return null;
        const report = await this.localReport(trx, leg.federatedRolloutId, leg);
        await updateLeg(trx, leg.id, reportPatch(report), now);
        return this.refresh(trx, leg.federatedRolloutId, now);
      });
      if (raised !== null) await this.propagateBarrier(leg.federatedRolloutId, raised, new Map());
    }
  }

  /** The outbox settled a `rollouts.start`: the leg learns its rollout, or fails with the peer's reason. */
  async startSettled(trx: Db, entry: OutboxEntry, outcome: 'delivered' | 'failed'): Promise<void> {
    const found = await findLegByStartOutbox(trx, entry.id);
    if (found === null) return;
    // The rollout row first, then its legs: every writer takes them in this order (no deadlocks).
    const rollout = await findFederatedRollout(trx, found.federatedRolloutId, { forUpdate: true });
    if (rollout === null) return;
    const leg = (await findLegByStartOutbox(trx, entry.id))!;
    const now = this.deps.clock.now();
    const answer = startAnswerSchema.safeParse(entry.response);
    if (outcome === 'delivered' && answer.success) {
      if (leg.state === 'requested') {
        const a = answer.data;
        await updateLeg(
          trx,
          leg.id,
          {
            localRolloutId: a.rollout_id,
            state: legStateOf(a.state),
            batchCount: a.batch_count,
            pendingApprovalIds: a.approval_request_id == null ? [] : [a.approval_request_id],
            lastError: null,
            ...contact(leg, now),
          },
          now,
        );
      }
      // A stop the operator asked for before this leg existed there: send it now, after the start.
      if (rollout.state === 'aborting' || rollout.state === 'rolling_back') {
        const peer = await findPeerById(trx, leg.federationPeerId!);
        if (peer !== null && peer.status !== 'revoked') {
          await this.federation.calls.enqueue(
            trx,
            peer,
            'rollouts.control',
            {
              federated_rollout_id: rollout.id,
              action: 'abort',
              reason: rollout.reason ?? 'stopped before it started',
            },
            { onBehalfOf: rollout.createdBy, actor: rollout.createdBy },
          );
        }
      }
    } else {
      const why =
        outcome === 'delivered' ? 'the peer’s answer to rollouts.start was not understood' : (entry.lastError ?? '');
      await updateLeg(trx, leg.id, { state: 'failed', lastError: `start refused by ${leg.peerName}: ${why}` }, now);
    }
    const raised = await this.refresh(trx, rollout.id, now);
    if (raised !== null) await this.enqueueBarrier(trx, rollout.id, raised);
  }

  /** The outbox settled a `rollouts.control`: the leg takes the status the peer answered. */
  async controlSettled(trx: Db, entry: OutboxEntry, outcome: 'delivered' | 'failed'): Promise<void> {
    const id = typeof entry.args.federated_rollout_id === 'string' ? entry.args.federated_rollout_id : null;
    if (id === null || (await findFederatedRollout(trx, id, { forUpdate: true })) === null) return;
    const leg = await findLegByPeer(trx, id, entry.federationPeerId);
    if (leg === null) return;
    const now = this.deps.clock.now();
    if (outcome === 'delivered') {
      const report = reportFrom(entry.response, id);
      if (report !== null) await updateLeg(trx, leg.id, { ...reportPatch(report), ...contact(leg, now) }, now);
    } else {
      const action = typeof entry.args.action === 'string' ? entry.args.action : 'control';
      await updateLeg(
        trx,
        leg.id,
        { lastError: `${action} refused by ${leg.peerName}: ${entry.lastError ?? ''}` },
        now,
      );
    }
    const raised = await this.refresh(trx, id, now);
    if (raised !== null) await this.enqueueBarrier(trx, id, raised);
  }

  // ---- overall state and the barrier ------------------------------------------------------------

  /**
   * Recomputes what each leg waits for and the overall state (with its event when it ends), and raises a
   * synchronized barrier when every live leg completed the barrier batch. Answers the raised barrier.
   */
  async refresh(trx: Db, id: string, now: Date): Promise<number | null> {
    let rollout = await findFederatedRollout(trx, id, { forUpdate: true });
    if (rollout === null) return null;
    let legs = await listLegs(trx, id);
    let raised: number | null = null;
    if (rollout.coordination === 'synchronized' && rollout.barrierBatch !== null) {
      const next = nextBarrier(rollout.barrierBatch, legs);
      if (next > rollout.barrierBatch && (await raiseBarrier(trx, id, next, now))) {
        raised = next;
        rollout = { ...rollout, barrierBatch: next };
      }
    }
    for (const leg of legs) {
      const waiting = legWaitingFor(leg, rollout, legs);
      if (waiting !== leg.waitingFor) await updateLeg(trx, leg.id, { waitingFor: waiting }, now);
    }
    legs = await listLegs(trx, id);
    const state = overallState(rollout.state, legs);
    if (state !== rollout.state) {
      const failed = legs.filter((l) => l.state === 'failed');
      const reason =
        failed.length === 0
          ? rollout.reason
          : `${failed.length} leg(s) failed: ${failed.map((l) => `${l.peerName}: ${l.lastError ?? 'failed'}`).join('; ')}`;
      await updateFederatedRollout(trx, id, { state, finishedAt: now, reason }, now);
      await appendEvent(
        trx,
        {
          kind: `federation.rollout.${state}`,
          actor: ACTOR,
          payload: {
            federated_rollout_id: id,
            module_name: rollout.moduleName,
            target_version: rollout.targetVersion,
            legs: legs.map((l) => ({ peer: l.peerName, state: l.state })),
            reason,
          },
        },
        now,
      );
    }
    return raised;
  }

  /** Sends a raised (or corrected) barrier: remote legs now, falling back to the outbox; the local leg directly. */
  async propagateBarrier(
    id: string,
    raised: number | null,
    observed: Map<string, Observation>,
    observedSince?: Date,
  ): Promise<void> {
    const rollout = await findFederatedRollout(this.deps.db, id);
    if (rollout === null || rollout.state !== 'running') return;
    // A push raised the barrier while the poll was out: what the poll saw is older than the barrier.
    if (raised === null && observedSince !== undefined && rollout.updatedAt > observedSince) return;
    const legs = gatedLegs(await listLegs(this.deps.db, id));
    const desired = rollout.coordination === 'synchronized' ? rollout.barrierBatch : null;
    // Remote legs are told all at once: one after another, the last leg would start its batch a round
    // trip per leg later than the first (bench/README.md, section 6).
    const sends: Promise<void>[] = [];
    let localRolloutId: string | null = null;
    for (const leg of legs) {
      const o = observed.get(leg.id);
      const reported = o?.kind === 'report' ? o.report.barrier_batch : undefined;
      // Send when raised now, or when the leg reported a different barrier (a lost or reordered call).
      if (raised === null && (reported === undefined || reported === desired)) continue;
      if (leg.federationPeerId === null) {
        localRolloutId = leg.localRolloutId;
        continue;
      }
      if (leg.state === 'requested') continue; // its start carries the barrier it was created with
      sends.push(this.sendBarrier(rollout, leg, desired));
    }
    // The local leg once the remote calls are under way, beside them: its transaction starts its next batch,
    // and awaited first it held every remote leg back by that long (bench/README.md, section 6).
    if (localRolloutId !== null) {
      const id = localRolloutId;
      sends.push(this.deps.db.transaction().execute((trx) => this.setLocalBarrier(trx, id, desired)));
    }
    const failed = (await Promise.allSettled(sends)).find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  private async sendBarrier(rollout: FederatedRollout, leg: FederatedLeg, barrier: number | null): Promise<void> {
    const peer = await findPeerById(this.deps.db, leg.federationPeerId!);
    if (peer === null || peer.status === 'revoked') return;
    const args = { federated_rollout_id: rollout.id, action: 'set_barrier', barrier_batch: barrier };
    const opts = { onBehalfOf: rollout.createdBy, actor: ACTOR };
    try {
      const answer = await this.federation.calls.request(peer, 'rollouts.control', args, opts);
      const report = reportFrom(answer, rollout.id);
      const now = this.deps.clock.now();
      if (report !== null) await updateLeg(this.deps.db, leg.id, { ...reportPatch(report), ...contact(leg, now) }, now);
    } catch (err) {
      if (!(err instanceof UnavailableError)) {
        this.deps.logger.warn({ legId: leg.id, err }, 'set_barrier refused');
        return;
      }
      // Coalesced: a peer that answers polls but not this call would get one entry per tick otherwise.
      await this.deps.db
        .transaction()
        .execute((trx) =>
          this.federation.calls.enqueue(trx, peer, 'rollouts.control', args, { ...opts, coalesce: true }),
        );
    }
  }

  /** Inside a transaction: the raised barrier goes to remote legs through the outbox, to the local leg directly. */
  private async enqueueBarrier(trx: Db, id: string, barrier: number): Promise<void> {
    const rollout = await findFederatedRollout(trx, id);
    if (rollout === null) return;
    for (const leg of gatedLegs(await listLegs(trx, id))) {
      if (leg.federationPeerId === null) {
        if (leg.localRolloutId !== null) await this.setLocalBarrier(trx, leg.localRolloutId, barrier);
        continue;
      }
      if (leg.state === 'requested') continue;
      const peer = await findPeerById(trx, leg.federationPeerId);
      if (peer === null || peer.status === 'revoked') continue;
      await this.federation.calls.enqueue(
        trx,
        peer,
        'rollouts.control',
        { federated_rollout_id: id, action: 'set_barrier', barrier_batch: barrier },
        { onBehalfOf: rollout.createdBy, actor: ACTOR, coalesce: true },
      );
    }
  }

  /** Appends `federated_rollout.<action>` to a peer's log (the local leg has none). */
  async auditLeg(trx: Db, leg: FederatedLeg, actor: string, action: string, payload: Record<string, unknown>) {
    if (leg.federationPeerId === null) return;
    await this.audit.append(leg.federationPeerId, { actor, action: `federated_rollout.${action}`, payload }, trx);
  }
}

/** The leg fields a report sets. */
export function reportPatch(r: LegReport): LegPatch {
  return {
    state: legStateOf(r.state),
    localRolloutId: r.rollout_id,
    currentBatch: r.current_batch,
    batchCount: r.batch_count,
    completedBatches: r.completed_batches,
    healthyTotal: r.healthy_total,
    failedTotal: r.failed_total,
    pendingApprovalIds: r.pending_approval_ids,
  };
}

function contact(leg: FederatedLeg, now: Date): LegPatch {
  return leg.federationPeerId === null ? {} : { lastContactAt: now, lostContact: false };
}

/** A leg report from a control's answer: one leg, or `{ legs: [...] }` holding it. */
function reportFrom(answer: unknown, id: string): LegReport | null {
  const one = legReportSchema.safeParse(answer);
  if (one.success) return one.data;
  const many = statusAnswerSchema.safeParse(answer);
  if (many.success) return many.data.legs.find((l) => l.federated_rollout_id === id) ?? null;
  const wrapped = legReportSchema.safeParse((answer as { leg?: unknown } | null)?.leg);
  return wrapped.success ? wrapped.data : null;
}
