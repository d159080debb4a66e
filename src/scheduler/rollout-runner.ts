// The rollout runner: on every reconciler tick, claims rollouts with work (SKIP LOCKED, so replicas
// never run the same step) and advances each one step in one transaction — judge health, feed the
// circuit breaker, complete and start batches, roll back. A crash loses nothing: state is the rows.
// A synchronized federated leg holds before a batch past its barrier. Progress listeners run after commit.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { applyOutcomes, tripOnRearm, type BreakerConfig, type BreakerState } from '../domain/breaker.js';
import { heldAtBarrier } from '../domain/federated-legs.js';
import type { Rollout } from '../domain/rollout.js';
import { ROLLING_UPGRADE_ACTION } from '../domain/approvals.js';
import { appendEvents } from '../store/events-repository.js';
import type { Database } from '../store/database.js';
import type { Db } from '../store/executor.js';
import {
  batchCounts,
  countUnconfirmedRollbacks,
  judgeRollingBack,
  judgeUpgrading,
  promoteBaseline,
  setBatchPhase,
  startBatch,
} from '../store/rollout-targets-repository.js';
import { claimRollout, claimRolloutById, updateRollout } from '../store/rollouts-repository.js';
import { openContinuationApproval, transitionRollout } from '../services/rollout-transitions.js';
import type { PoliciesService } from '../services/policies-service.js';
import { StoreOutageCredit } from './store-outage-credit.js';

const ACTOR = 'reconciler';
/** Rollouts advanced per tick; the rest wait for the next tick. */
const MAX_PER_TICK = 50;

/**
 * Told, after the tick's transactions committed, which rollouts made progress worth reporting: a batch
 * completed, or the state changed (circuit_open, completed, rolled_back, failed). Never inside a transaction.
 */
export type RolloutProgressListener = (rolloutIds: readonly string[], now: Date) => Promise<void>;

export class RolloutRunner {
  private readonly listeners: RolloutProgressListener[] = [];
  private readonly outage: StoreOutageCredit;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      logger: Logger;
      policies: PoliciesService;
      /** The least time an instance gets to heartbeat after a store outage; default 45 s. */
      freshWindowMs?: number;
    },
  ) {
    this.outage = new StoreOutageCredit({
      db: deps.db,
      logger: deps.logger,
      freshWindowMs: deps.freshWindowMs ?? 45_000,
    });
  }

  /** Adds a listener for progress made by ticks (federated legs report it to their origin). */
  onProgress(listener: RolloutProgressListener): void {
    this.listeners.push(listener);
  }

  /**
   * Advances every rollout with work once; returns how many were advanced. Time the store was unreachable
   * is first credited to health deadlines: no instance is judged on time its heartbeats could not arrive.
   */
  async tick(now: Date): Promise<number> {
    try {
      await this.outage.credit(now);
      return await this.advanceAll(now);
    } catch (err) {
      this.outage.noteFailure(err);
      throw err;
    }
  }

  private async advanceAll(now: Date): Promise<number> {
    const done: string[] = [];
    const progressed: string[] = [];
    while (done.length < MAX_PER_TICK) {
      const step = await this.deps.db.transaction().execute(async (trx) => {
        const rollout = await claimRollout(trx, done);
        if (rollout === null) return null;
        return { id: rollout.id, progressed: await this.advance(trx, rollout, now) };
      });
      if (step === null) break;
      done.push(step.id);
      if (step.progressed) progressed.push(step.id);
    }
    if (progressed.length > 0) await this.report(progressed, now);
    return done.length;
  }

  /**
   * Advances one rollout at once, in the caller's transaction (a raised barrier should cost no tick).
   * Skipped when it has no work or another transaction holds it (that one is a tick advancing it).
   * Answers whether it made progress a listener would be told of; the caller reports it if it wants.
   */
  async advanceOne(trx: Db, id: string, now: Date): Promise<boolean> {
    const rollout = await claimRolloutById(trx, id);
    return rollout === null ? false : this.advance(trx, rollout, now);
  }

  private async report(ids: readonly string[], now: Date): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(ids, now);
      } catch (err) {
        this.deps.logger.warn({ err, rolloutIds: ids }, 'rollout progress listener failed');
      }
    }
  }

  /** One step of one locked rollout; true when a batch completed or the state changed. */
  async advance(trx: Db, r: Rollout, now: Date): Promise<boolean> {
    if (r.state === 'rolling_back') return this.advanceRollback(trx, r, now);
    const outcomes = await judgeUpgrading(trx, {
      rolloutId: r.id,
      moduleName: r.moduleName,
      targetDigest: r.targetDigest,
      now,
    });
    await appendEvents(
      trx,
      outcomes.map((o) => ({
        kind: 'module.upgrade.instance_health_check',
        actor: ACTOR,
        payload: {
          rollout_id: r.id,
          instance_id: o.instanceId,
          batch_index: o.batchIndex,
          healthy: o.healthy,
          reason: o.reason,
        },
      })),
      now,
    );
    const before: BreakerState = {
      consecutive: r.consecutiveFailures,
      runIds: r.failureRunIds,
      healthyTotal: r.healthyTotal,
      failedTotal: r.failedTotal,
    };
    const config: BreakerConfig = {
      maxConsecutiveFailures: r.maxConsecutiveFailures,
      maxFailurePct: r.maxFailurePct,
      minSample: r.minSample ?? (r.maxFailurePct === null ? null : 10),
    };
    const armed = r.state === 'running';
    const applied = applyOutcomes(before, outcomes, config, armed);
    const breaker = applied.state;
    // Failures judged while paused were recorded disarmed: they open the breaker once it runs again.
    const trip = applied.trip ?? (armed ? tripOnRearm(breaker, config) : null);
    const counters = {
      consecutiveFailures: breaker.consecutive,
      failureRunIds: breaker.runIds.slice(-100),
      healthyTotal: breaker.healthyTotal,
      failedTotal: breaker.failedTotal,
    };
    if (trip !== null) {
      const policy = await this.deps.policies.get(ROLLING_UPGRADE_ACTION, trx);
      const approval = await openContinuationApproval(
        trx,
        r,
        { batchIndex: r.currentBatch, ...trip },
        policy.fourEyes,
        now,
      );
      await transitionRollout(trx, r, 'trip', {
        actor: ACTOR,
        kind: 'circuit_breaker_tripped',
        payload: {
          batch_index: r.currentBatch,
          failed_instance_ids: trip.failedInstanceIds,
          reason: trip.reason,
          approval_request_id: approval.id,
        },
        patch: { ...counters, breakerTrips: r.breakerTrips + 1, approvalRequestId: approval.id },
        now,
      });
      return true;
    }
    if (r.state !== 'running') {
      if (outcomes.length > 0) await updateRollout(trx, r.id, counters, now);
      return false;
    }
    return this.advanceBatches(trx, { ...r, ...counters }, now);
  }

  private async advanceBatches(trx: Db, r: Rollout, now: Date): Promise<boolean> {
    let nextBatchAt = r.nextBatchAt;
    let completedBatch = false;
    if (r.currentBatch >= 0) {
      const counts = await batchCounts(trx, r.id, r.currentBatch);
      if (counts.pending + counts.upgrading > 0) {
        await updateRollout(trx, r.id, pick(r), now);
        return false;
      }
      if (nextBatchAt === null) {
        completedBatch = true;
        await setBatchPhase(trx, {
          rolloutId: r.id,
          batchIndex: r.currentBatch,
          phase: 'completed',
          healthy: counts.healthy,
          failed: counts.failed,
          at: now,
        });
        await appendEvents(
          trx,
          [
            {
              kind: 'module.upgrade.batch_completed',
              actor: ACTOR,
              payload: {
                rollout_id: r.id,
                batch_index: r.currentBatch,
                healthy_count: counts.healthy,
                failed_count: counts.failed,
                skipped_count: counts.skipped,
              },
            },
          ],
          now,
        );
        if (r.soakSec > 0 && r.currentBatch + 1 < r.batchCount) {
          nextBatchAt = new Date(now.getTime() + r.soakSec * 1000);
          await updateRollout(trx, r.id, { ...pick(r), nextBatchAt }, now);
          return true;
        }
      }
    }
    if (nextBatchAt !== null && now.getTime() < nextBatchAt.getTime()) {
      await updateRollout(trx, r.id, pick(r), now);
      return completedBatch;
    }
    const next = r.currentBatch + 1;
    if (next >= r.batchCount) {
      if (r.instanceIds === null) {
        await promoteBaseline(trx, {
          rolloutId: r.id,
          groupId: r.groupId,
          moduleId: r.moduleId,
          targetVersionId: r.targetVersionId,
          actor: ACTOR,
          now,
        });
      }
      await transitionRollout(trx, r, 'complete', {
        actor: ACTOR,
        kind: 'completed',
        payload: { healthy_total: r.healthyTotal, failed_total: r.failedTotal, batch_count: r.batchCount },
        patch: pick(r),
        now,
      });
      return true;
    }
    if (heldAtBarrier(r, next)) {
      // A synchronized leg: the originating platform raises the barrier once every leg completed this
      // batch. next_batch_at (at the latest now) marks the current batch completed, so it is done once.
      await updateRollout(trx, r.id, { ...pick(r), nextBatchAt: nextBatchAt ?? now }, now);
      return completedBatch;
    }
    const started = await startBatch(trx, {
      rolloutId: r.id,
      batchIndex: next,
      moduleId: r.moduleId,
      targetVersionId: r.targetVersionId,
      targetVersion: r.targetVersion,
      healthTimeoutSec: r.healthTimeoutSec,
      actor: ACTOR,
      now,
    });
    await appendEvents(
      trx,
      [
        {
          kind: 'module.upgrade.batch_started',
          actor: ACTOR,
          payload: { rollout_id: r.id, batch_index: next, instance_count: started },
        },
      ],
      now,
    );
    await updateRollout(trx, r.id, { ...pick(r), currentBatch: next, nextBatchAt: null }, now);
    return completedBatch;
  }

  private async advanceRollback(trx: Db, r: Rollout, now: Date): Promise<boolean> {
    const { remaining } = await judgeRollingBack(trx, { rolloutId: r.id, moduleName: r.moduleName, now });
    if (remaining > 0) return false;
    const failedCount = await countUnconfirmedRollbacks(trx, r.id);
    if (failedCount > 0) {
      await transitionRollout(trx, r, 'fail', {
        actor: ACTOR,
        kind: 'rollback_failed',
        payload: { unconfirmed_count: failedCount },
        patch: { reason: `${failedCount} instance(s) did not confirm their previous version` },
        now,
      });
      return true;
    }
    await transitionRollout(trx, r, 'rolled_back', { actor: ACTOR, kind: 'rolled_back', payload: {}, now });
    return true;
  }
}

function pick(r: Rollout) {
  return {
    consecutiveFailures: r.consecutiveFailures,
    failureRunIds: r.failureRunIds,
    healthyTotal: r.healthyTotal,
    failedTotal: r.failedTotal,
  };
}
