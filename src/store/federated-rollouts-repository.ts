// Federated rollouts and their legs on the originating platform: insert, read, page, conditional
// updates (the barrier only ever rises; terminal states are final). Plain functions taking `db` or `trx`.
import { sql, type Selectable } from 'kysely';
import type {
  Coordination,
  FederatedLeg,
  FederatedRollout,
  FederatedRolloutState,
  LegState,
} from '../domain/federated-rollout.js';
import type { Strategy } from '../domain/strategy.js';
import type { FederatedRolloutLegsTable, FederatedRolloutsTable } from './database.js';
import type { Db } from './executor.js';

const LIVE_STATES: readonly FederatedRolloutState[] = ['running', 'rolling_back', 'aborting'];

function toRollout(r: Selectable<FederatedRolloutsTable>): FederatedRollout {
  return {
    id: r.id,
    moduleName: r.module_name,
    moduleId: r.module_id,
    targetVersion: r.target_version,
    groupName: r.group_name,
    strategy: r.strategy as unknown as Strategy,
    coordination: r.coordination as Coordination,
    maxConsecutiveFailures: r.max_consecutive_failures,
    healthTimeoutSec: r.health_timeout_sec,
    includeLocal: r.include_local,
    state: r.state as FederatedRolloutState,
    barrierBatch: r.barrier_batch,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    reason: r.reason,
  };
}

function toLeg(r: Selectable<FederatedRolloutLegsTable>): FederatedLeg {
  return {
    id: r.id,
    federatedRolloutId: r.federated_rollout_id,
    federationPeerId: r.federation_peer_id,
    peerName: r.peer_name,
    groupName: r.group_name,
    state: r.state as LegState,
    localRolloutId: r.local_rollout_id,
    currentBatch: r.current_batch,
    batchCount: r.batch_count,
    completedBatches: r.completed_batches,
    healthyTotal: r.healthy_total,
    failedTotal: r.failed_total,
    pendingApprovalIds: r.pending_approval_ids,
    waitingFor: r.waiting_for,
    lastContactAt: r.last_contact_at,
    lostContact: r.lost_contact,
    lastError: r.last_error,
    startOutboxId: r.start_outbox_id,
    updatedAt: r.updated_at,
  };
}

export interface NewFederatedRollout {
  moduleName: string;
  moduleId: string | null;
  targetVersion: string;
  groupName: string;
  strategy: Strategy;
  coordination: Coordination;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
  includeLocal: boolean;
  barrierBatch: number | null;
  createdBy: string;
  at: Date;
}

export async function insertFederatedRollout(db: Db, r: NewFederatedRollout): Promise<FederatedRollout> {
  const row = await db
    .insertInto('federated_rollouts')
    .values({
      module_name: r.moduleName,
      module_id: r.moduleId,
      target_version: r.targetVersion,
      group_name: r.groupName,
      strategy: JSON.stringify(r.strategy),
      coordination: r.coordination,
      max_consecutive_failures: r.maxConsecutiveFailures,
      health_timeout_sec: r.healthTimeoutSec,
      include_local: r.includeLocal,
      state: 'running',
      barrier_batch: r.barrierBatch,
      created_by: r.createdBy,
      created_at: r.at,
      updated_at: r.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRollout(row);
}

export interface NewLeg {
  federatedRolloutId: string;
  federationPeerId: string | null;
  peerName: string;
  groupName: string;
  startOutboxId: string | null;
  at: Date;
}

export async function insertLeg(db: Db, leg: NewLeg): Promise<FederatedLeg> {
  const row = await db
    .insertInto('federated_rollout_legs')
    .values({
      federated_rollout_id: leg.federatedRolloutId,
      federation_peer_id: leg.federationPeerId,
      peer_name: leg.peerName,
      group_name: leg.groupName,
      state: 'requested',
      start_outbox_id: leg.startOutboxId,
      updated_at: leg.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toLeg(row);
}

export async function findFederatedRollout(
  db: Db,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<FederatedRollout | null> {
  let q = db.selectFrom('federated_rollouts').selectAll().where('id', '=', id);
  if (opts.forUpdate === true) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toRollout(row);
}

/** The legs of one rollout: the local leg first, then by peer name. */
export async function listLegs(db: Db, federatedRolloutId: string): Promise<FederatedLeg[]> {
  const rows = await db
    .selectFrom('federated_rollout_legs')
    .selectAll()
    .where('federated_rollout_id', '=', federatedRolloutId)
    .orderBy(sql`federation_peer_id IS NOT NULL`)
    .orderBy('peer_name')
    .execute();
  return rows.map(toLeg);
}

export async function findLegByPeer(
  db: Db,
  federatedRolloutId: string,
  peerId: string | null,
): Promise<FederatedLeg | null> {
  const row = await db
    .selectFrom('federated_rollout_legs')
    .selectAll()
    .where('federated_rollout_id', '=', federatedRolloutId)
    .where('federation_peer_id', peerId === null ? 'is' : '=', peerId)
    .executeTakeFirst();
  return row === undefined ? null : toLeg(row);
}

/** This platform's own legs (no peer) running as any of `rolloutIds`. */
export async function findLocalLegsByRollouts(db: Db, rolloutIds: readonly string[]): Promise<FederatedLeg[]> {
  if (rolloutIds.length === 0) return [];
  const rows = await db
    .selectFrom('federated_rollout_legs')
    .selectAll()
    .where('federation_peer_id', 'is', null)
    .where('local_rollout_id', 'in', rolloutIds)
    .execute();
  return rows.map(toLeg);
}

export async function findLegByStartOutbox(db: Db, outboxId: string): Promise<FederatedLeg | null> {
  const row = await db
    .selectFrom('federated_rollout_legs')
    .selectAll()
    .where('start_outbox_id', '=', outboxId)
    .executeTakeFirst();
  return row === undefined ? null : toLeg(row);
}

/** Rollouts still coordinating (not terminal), oldest first. */
export async function listLiveFederatedRollouts(db: Db, limit: number): Promise<FederatedRollout[]> {
  const rows = await db
    .selectFrom('federated_rollouts')
    .selectAll()
    .where('state', 'in', LIVE_STATES)
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toRollout);
}

/** Newest first after the (created_at, id) cursor; limit + 1 rows. */
export async function listFederatedRollouts(
  db: Db,
  f: { limit: number; state?: FederatedRolloutState; before?: { createdAt: Date; id: string } },
): Promise<FederatedRollout[]> {
  let q = db.selectFrom('federated_rollouts').selectAll();
  if (f.state !== undefined) q = q.where('state', '=', f.state);
  if (f.before !== undefined) {
    const { createdAt, id } = f.before;
    q = q.where(sql<boolean>`(created_at, id) < (${createdAt}, ${id}::uuid)`);
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit + 1)
    .execute();
  return rows.map(toRollout);
}

/** Leg counts by state for a set of rollouts (list views). */
export async function countLegStates(db: Db, ids: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('federated_rollout_legs')
    .select(['federated_rollout_id', 'state', sql<string>`count(*)`.as('n')])
    .where('federated_rollout_id', 'in', ids)
    .groupBy(['federated_rollout_id', 'state'])
    .execute();
  for (const r of rows) {
    const counts = out.get(r.federated_rollout_id) ?? {};
    counts[r.state] = Number(r.n);
    out.set(r.federated_rollout_id, counts);
  }
  return out;
}

export type LegPatch = Partial<
  Pick<
    FederatedLeg,
    | 'state'
    | 'localRolloutId'
    | 'currentBatch'
    | 'batchCount'
    | 'completedBatches'
    | 'healthyTotal'
    | 'failedTotal'
    | 'pendingApprovalIds'
    | 'waitingFor'
    | 'lastContactAt'
    | 'lostContact'
    | 'lastError'
  >
>;

export async function updateLeg(db: Db, id: string, patch: LegPatch, at: Date): Promise<void> {
  await db
    .updateTable('federated_rollout_legs')
    .set({
      updated_at: at,
      ...(patch.state === undefined ? {} : { state: patch.state }),
      ...(patch.localRolloutId === undefined ? {} : { local_rollout_id: patch.localRolloutId }),
      ...(patch.currentBatch === undefined ? {} : { current_batch: patch.currentBatch }),
      ...(patch.batchCount === undefined ? {} : { batch_count: patch.batchCount }),
      ...(patch.completedBatches === undefined ? {} : { completed_batches: patch.completedBatches }),
      ...(patch.healthyTotal === undefined ? {} : { healthy_total: patch.healthyTotal }),
      ...(patch.failedTotal === undefined ? {} : { failed_total: patch.failedTotal }),
      ...(patch.pendingApprovalIds === undefined
        ? {}
        : { pending_approval_ids: JSON.stringify(patch.pendingApprovalIds) }),
      ...(patch.waitingFor === undefined ? {} : { waiting_for: patch.waitingFor }),
      ...(patch.lastContactAt === undefined ? {} : { last_contact_at: patch.lastContactAt }),
      ...(patch.lostContact === undefined ? {} : { lost_contact: patch.lostContact }),
      ...(patch.lastError === undefined ? {} : { last_error: patch.lastError }),
    })
    .where('id', '=', id)
    .execute();
}

/** Raises a synchronized rollout's barrier to `batch`; false when it already was that high (or is not synchronized). */
export async function raiseBarrier(db: Db, id: string, batch: number, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('federated_rollouts')
    .set({ barrier_batch: batch, updated_at: at })
    .where('id', '=', id)
    .where('coordination', '=', 'synchronized')
    .where('barrier_batch', '<', batch)
    .where('state', 'in', LIVE_STATES)
    .returning('id')
    .execute();
  return rows.length > 0;
}

export type FederatedRolloutPatch = Partial<{
  state: FederatedRolloutState;
  coordination: Coordination;
  barrierBatch: number | null;
  finishedAt: Date;
  reason: string | null;
}>;

/** Updates a rollout that is not terminal yet; false when it already was. */
export async function updateFederatedRollout(
  db: Db,
  id: string,
  patch: FederatedRolloutPatch,
  at: Date,
): Promise<boolean> {
  const rows = await db
    .updateTable('federated_rollouts')
    .set({
      updated_at: at,
      ...(patch.state === undefined ? {} : { state: patch.state }),
      ...(patch.coordination === undefined ? {} : { coordination: patch.coordination }),
      ...(patch.barrierBatch === undefined ? {} : { barrier_batch: patch.barrierBatch }),
      ...(patch.finishedAt === undefined ? {} : { finished_at: patch.finishedAt }),
      ...(patch.reason === undefined ? {} : { reason: patch.reason }),
    })
    .where('id', '=', id)
    .where('state', 'in', LIVE_STATES)
    .returning('id')
    .execute();
  return rows.length > 0;
}
