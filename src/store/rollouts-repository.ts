// Rollout rows: insert, read with names, claim for the runner (SKIP LOCKED), and state updates.
import { sql } from 'kysely';
import type { Rollout } from '../domain/rollout.js';
import type { RolloutState } from '../domain/rollout-state.js';
import type { Strategy } from '../domain/strategy.js';
import type { Db } from './executor.js';

const SELECT = sql`
  SELECT r.*, g.name AS group_name, m.name AS module_name, mv.version AS target_version, mv.digest AS target_digest
  FROM rollouts r
  JOIN groups g ON g.id = r.group_id
  JOIN modules m ON m.id = r.module_id
  JOIN module_versions mv ON mv.id = r.target_version_id`;

interface Row {
  id: string;
  group_id: string;
  group_name: string;
  module_id: string;
  module_name: string;
  target_version_id: string;
  target_version: string;
  target_digest: string;
  strategy: Strategy;
  max_consecutive_failures: number;
  health_timeout_sec: number;
  max_failure_pct: string | null;
  min_sample: number | null;
  soak_sec: number;
  state: string;
  total_instances: number;
  batch_count: number;
  current_batch: number;
  consecutive_failures: number;
  failure_run_ids: string[];
  healthy_total: number;
  failed_total: number;
  breaker_trips: number;
  next_batch_at: Date | null;
  requested_by: string;
  approval_request_id: string | null;
  federation_rollout_ref: string | null;
  federation_origin_peer_id: string | null;
  barrier_batch: number | null;
  instance_ids: string[] | null;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function toRollout(r: Row): Rollout {
  return {
    id: r.id,
    groupId: r.group_id,
    groupName: r.group_name,
    moduleId: r.module_id,
    moduleName: r.module_name,
    targetVersionId: r.target_version_id,
    targetVersion: r.target_version,
    targetDigest: r.target_digest,
    strategy: r.strategy,
    maxConsecutiveFailures: r.max_consecutive_failures,
    healthTimeoutSec: r.health_timeout_sec,
    maxFailurePct: r.max_failure_pct === null ? null : Number(r.max_failure_pct),
    minSample: r.min_sample,
    soakSec: r.soak_sec,
    state: r.state as RolloutState,
    totalInstances: r.total_instances,
    batchCount: r.batch_count,
    currentBatch: r.current_batch,
    consecutiveFailures: r.consecutive_failures,
    failureRunIds: r.failure_run_ids,
    healthyTotal: r.healthy_total,
    failedTotal: r.failed_total,
    breakerTrips: r.breaker_trips,
    nextBatchAt: r.next_batch_at,
    requestedBy: r.requested_by,
    approvalRequestId: r.approval_request_id,
    federationRolloutRef: r.federation_rollout_ref,
    federationOriginPeerId: r.federation_origin_peer_id,
    barrierBatch: r.barrier_batch,
    instanceIds: r.instance_ids,
    reason: r.reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export interface NewRollout {
  groupId: string;
  moduleId: string;
  targetVersionId: string;
  strategy: Strategy;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
  maxFailurePct: number | null;
  minSample: number | null;
  soakSec: number;
  totalInstances: number;
  batchCount: number;
  requestedBy: string;
  federationRolloutRef: string | null;
  /** Set for a leg a peer started: that peer. */
  federationOriginPeerId?: string | null;
  barrierBatch?: number | null;
  /** Scoped to these instances of the group; null or absent: the whole group. */
  instanceIds?: readonly string[] | null;
  at: Date;
}

/** Inserts a rollout in `planned`; null when another active rollout of the module in the group exists. */
export async function insertRollout(db: Db, r: NewRollout): Promise<string | null> {
  const row = await sql<{ id: string }>`
    INSERT INTO rollouts (group_id, module_id, target_version_id, strategy, max_consecutive_failures, health_timeout_sec,
                          max_failure_pct, min_sample, soak_sec, state, total_instances, batch_count, requested_by,
                          federation_rollout_ref, federation_origin_peer_id, barrier_batch, instance_ids, created_at, updated_at)
    VALUES (${r.groupId}, ${r.moduleId}, ${r.targetVersionId}, ${JSON.stringify(r.strategy)}::jsonb, ${r.maxConsecutiveFailures},
            ${r.healthTimeoutSec}, ${r.maxFailurePct}, ${r.minSample}, ${r.soakSec}, 'planned', ${r.totalInstances},
            ${r.batchCount}, ${r.requestedBy}, ${r.federationRolloutRef}, ${r.federationOriginPeerId ?? null},
            ${r.barrierBatch ?? null}, ${r.instanceIds ?? null}::uuid[], ${r.at}, ${r.at})
    ON CONFLICT (group_id, module_id)
      WHERE state IN ('planned', 'pending_approval', 'running', 'paused', 'circuit_open', 'rolling_back')
      DO NOTHING
    RETURNING id`.execute(db);
  return row.rows[0]?.id ?? null;
}

export async function findActiveRollout(db: Db, groupId: string, moduleId: string): Promise<string | null> {
  const row = await db
    .selectFrom('rollouts')
    .select('id')
    .where('group_id', '=', groupId)
    .where('module_id', '=', moduleId)
    .where('state', 'in', ['planned', 'pending_approval', 'running', 'paused', 'circuit_open', 'rolling_back'])
    .executeTakeFirst();
  return row?.id ?? null;
}

export async function findRollout(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<Rollout | null> {
  const lock = opts.forUpdate === true ? sql`FOR UPDATE OF r` : sql``;
  const rows = await sql<Row>`${SELECT} WHERE r.id = ${id} ${lock}`.execute(db);
  return rows.rows[0] === undefined ? null : toRollout(rows.rows[0]);
}

/** Locks, in id order, the rollouts whose pending approval requests are due (before the requests themselves). */
export async function lockRolloutsWithDueApprovals(db: Db, now: Date): Promise<void> {
  await sql`
    SELECT r.id FROM rollouts r
    WHERE r.id IN (SELECT a.subject_id FROM approval_requests a WHERE a.status = 'pending' AND a.expires_at <= ${now})
    ORDER BY r.id
    FOR UPDATE`.execute(db);
}

/** Locks one rollout the runner should advance, skipping rows another replica holds. */
export async function claimRollout(db: Db, skipIds: readonly string[]): Promise<Rollout | null> {
  const skip = skipIds.length === 0 ? sql`` : sql`AND r.id <> ALL(${skipIds}::uuid[])`;
  const rows = await sql<Row>`
    ${SELECT}
    WHERE r.state IN ('running', 'paused', 'circuit_open', 'rolling_back') ${skip}
    ORDER BY r.updated_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED`.execute(db);
  return rows.rows[0] === undefined ? null : toRollout(rows.rows[0]);
}

/** Locks one rollout by id for the runner when it has work and no other transaction holds it. */
export async function claimRolloutById(db: Db, id: string): Promise<Rollout | null> {
  const rows = await sql<Row>`
    ${SELECT}
    WHERE r.id = ${id} AND r.state IN ('running', 'paused', 'circuit_open', 'rolling_back')
    FOR UPDATE OF r SKIP LOCKED`.execute(db);
  return rows.rows[0] === undefined ? null : toRollout(rows.rows[0]);
}

/** Legs peers started (federation_origin_peer_id set) with one of `refs`, oldest first; locked when asked. */
export async function findPeerLegsByRefs(
  db: Db,
  refs: readonly string[],
  opts: { forUpdate?: boolean } = {},
): Promise<Rollout[]> {
  if (refs.length === 0) return [];
  const lock = opts.forUpdate === true ? sql`FOR UPDATE OF r` : sql``;
  const rows = await sql<Row>`
    ${SELECT}
    WHERE r.federation_rollout_ref = ANY(${refs}::text[]) AND r.federation_origin_peer_id IS NOT NULL
    ORDER BY r.created_at, r.id ${lock}`.execute(db);
  return rows.rows.map(toRollout);
}

/** Newest first after the (created_at, id) cursor; limit + 1 rows. */
export async function listRollouts(
  db: Db,
  f: {
    state?: RolloutState;
    groupId?: string;
    moduleId?: string;
    limit: number;
    before?: { createdAt: Date; id: string };
  },
): Promise<Rollout[]> {
  const conds = [sql`true`];
  if (f.state !== undefined) conds.push(sql`r.state = ${f.state}`);
  if (f.groupId !== undefined) conds.push(sql`r.group_id = ${f.groupId}`);
  if (f.moduleId !== undefined) conds.push(sql`r.module_id = ${f.moduleId}`);
  if (f.before !== undefined) {
    conds.push(sql`(r.created_at, r.id) < (${f.before.createdAt}, ${f.before.id}::uuid)`);
  }
  const rows =
    await sql<Row>`${SELECT} WHERE ${sql.join(conds, sql` AND `)} ORDER BY r.created_at DESC, r.id DESC LIMIT ${f.limit + 1}`.execute(
      db,
    );
  return rows.rows.map(toRollout);
}

export type RolloutPatch = Partial<{
  state: RolloutState;
  currentBatch: number;
  consecutiveFailures: number;
  failureRunIds: string[];
  healthyTotal: number;
  failedTotal: number;
  breakerTrips: number;
  nextBatchAt: Date | null;
  approvalRequestId: string | null;
  reason: string | null;
  startedAt: Date;
  finishedAt: Date;
  strategy: Strategy;
  maxConsecutiveFailures: number;
  batchCount: number;
  requestedBy: string;
  barrierBatch: number | null;
}>;

export async function updateRollout(db: Db, id: string, patch: RolloutPatch, at: Date): Promise<void> {
  await db
    .updateTable('rollouts')
    .set({
      updated_at: at,
      ...(patch.state === undefined ? {} : { state: patch.state }),
      ...(patch.currentBatch === undefined ? {} : { current_batch: patch.currentBatch }),
      ...(patch.consecutiveFailures === undefined ? {} : { consecutive_failures: patch.consecutiveFailures }),
      ...(patch.failureRunIds === undefined ? {} : { failure_run_ids: JSON.stringify(patch.failureRunIds) }),
      ...(patch.healthyTotal === undefined ? {} : { healthy_total: patch.healthyTotal }),
      ...(patch.failedTotal === undefined ? {} : { failed_total: patch.failedTotal }),
      ...(patch.breakerTrips === undefined ? {} : { breaker_trips: patch.breakerTrips }),
      ...(patch.nextBatchAt === undefined ? {} : { next_batch_at: patch.nextBatchAt }),
      ...(patch.approvalRequestId === undefined ? {} : { approval_request_id: patch.approvalRequestId }),
      ...(patch.reason === undefined ? {} : { reason: patch.reason }),
      ...(patch.startedAt === undefined ? {} : { started_at: patch.startedAt }),
      ...(patch.finishedAt === undefined ? {} : { finished_at: patch.finishedAt }),
      ...(patch.strategy === undefined ? {} : { strategy: JSON.stringify(patch.strategy) }),
      ...(patch.maxConsecutiveFailures === undefined ? {} : { max_consecutive_failures: patch.maxConsecutiveFailures }),
      ...(patch.batchCount === undefined ? {} : { batch_count: patch.batchCount }),
      ...(patch.requestedBy === undefined ? {} : { requested_by: patch.requestedBy }),
      ...(patch.barrierBatch === undefined ? {} : { barrier_batch: patch.barrierBatch }),
    })
    .where('id', '=', id)
    .execute();
}
