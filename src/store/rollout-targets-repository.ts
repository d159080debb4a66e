// Rollout batches and per-instance targets: planning over a whole group in one statement, starting a
// batch, judging health from heartbeats, rolling back. Every query's cost follows the work in flight
// (the in-flight partial index), never the fleet size, except planning, which reads the group once.
import { sql } from 'kysely';
import type { BatchPhase, RolloutBatch, TargetState } from '../domain/rollout.js';
import type { Db } from './executor.js';

/** Only these instances of the group; null: all of them. */
type Scope = readonly string[] | null | undefined;
const inScope = (scope: Scope) => (scope == null ? sql`TRUE` : sql`i.id = ANY(${scope}::uuid[])`);

/** Live instances of a group (within the scope) numbered 1..n in upgrade order (by id). */
const numbered = (groupId: string, scope: Scope) => sql`
  SELECT i.id, row_number() OVER (ORDER BY i.id)::int AS rn, i.running_module_digests
  FROM instances i WHERE i.group_id = ${groupId} AND i.status <> 'terminated' AND ${inScope(scope)}`;

export async function countLiveInstances(db: Db, groupId: string, scope?: Scope): Promise<number> {
  const r = await sql<{ n: string }>`
    SELECT count(*) AS n FROM instances i
    WHERE i.group_id = ${groupId} AND i.status <> 'terminated' AND ${inScope(scope)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Of `ids`, those that are not live instances of the group, in the order given (refusing a scoped plan). */
export async function instancesOutsideScope(
  db: Db,
  groupId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; terminated: boolean }>> {
  const r = await sql<{ id: string; terminated: boolean }>`
    SELECT x.id::text AS id, i.group_id IS NOT DISTINCT FROM ${groupId}::uuid AS terminated
    FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, ord)
    LEFT JOIN instances i ON i.id = x.id
    WHERE i.id IS NULL OR i.group_id <> ${groupId} OR i.status = 'terminated'
    ORDER BY x.ord`.execute(db);
  return r.rows;
}

/** Up to `perBatch` instance ids of each batch, computed without writing (dry runs). */
export async function previewBatches(
  db: Db,
  groupId: string,
  starts: readonly number[],
  perBatch: number,
  scope?: Scope,
): Promise<Map<number, string[]>> {
  const rows = await sql<{ batch_index: number; ids: string[] }>`
    WITH n AS (${numbered(groupId, scope)}),
    b AS (SELECT (ord - 1)::int AS batch_index, s AS start FROM unnest(${starts}::int[]) WITH ORDINALITY AS x(s, ord))
    SELECT b.batch_index, array_agg(n.id ORDER BY n.rn) AS ids
    FROM b JOIN n ON n.rn >= b.start AND n.rn < b.start + ${perBatch}
      AND width_bucket(n.rn, ${starts}::int[]) - 1 = b.batch_index
    GROUP BY b.batch_index`.execute(db);
  return new Map(rows.rows.map((r) => [r.batch_index, r.ids]));
}

/**
 * Writes the batches and one target per live instance of the group, remembering each instance's
 * previous version of the module (its desired version, else the version matching what it runs).
 */
export async function insertPlan(
  db: Db,
  p: {
    rolloutId: string;
    groupId: string;
    moduleId: string;
    moduleName: string;
    sizes: readonly number[];
    starts: readonly number[];
    scope?: Scope;
  },
): Promise<number> {
  await sql`
    INSERT INTO rollout_batches (rollout_id, batch_index, phase, instance_count)
    SELECT ${p.rolloutId}, (ord - 1)::int, 'pending', size FROM unnest(${p.sizes}::int[]) WITH ORDINALITY AS x(size, ord)`.execute(
    db,
  );
  const r = await sql`
    INSERT INTO rollout_targets (rollout_id, instance_id, batch_index, position, state, previous_version_id, previous_override)
    SELECT ${p.rolloutId}, n.id, width_bucket(n.rn, ${p.starts}::int[]) - 1, n.rn, 'pending',
           COALESCE(d.version_id, g.version_id, (
             SELECT mv.id FROM module_versions mv
             WHERE mv.module_id = ${p.moduleId} AND mv.digest = n.running_module_digests ->> ${p.moduleName}
             ORDER BY mv.created_at DESC LIMIT 1)),
           d.version_id IS NOT NULL
    FROM (${numbered(p.groupId, p.scope)}) n
    LEFT JOIN instance_desired_versions d ON d.instance_id = n.id AND d.module_id = ${p.moduleId}
    LEFT JOIN group_module_versions g ON g.group_id = ${p.groupId} AND g.module_id = ${p.moduleId}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Removes a not-yet-started plan (re-planning after an edit). */
export async function deletePlan(db: Db, rolloutId: string): Promise<void> {
  await db.deleteFrom('rollout_targets').where('rollout_id', '=', rolloutId).execute();
  await db.deleteFrom('rollout_batches').where('rollout_id', '=', rolloutId).execute();
}

export async function listBatches(db: Db, rolloutId: string, perBatch: number): Promise<RolloutBatch[]> {
  const rows = await sql<{
    batch_index: number;
    phase: string;
    instance_count: number;
    healthy_count: number;
    failed_count: number;
    started_at: Date | null;
    completed_at: Date | null;
    ids: string[] | null;
  }>`
    SELECT b.*, (
      SELECT array_agg(t.instance_id ORDER BY t.position) FROM (
        SELECT instance_id, position FROM rollout_targets
        WHERE rollout_id = b.rollout_id AND batch_index = b.batch_index ORDER BY position LIMIT ${perBatch}
      ) t
    ) AS ids
    FROM rollout_batches b WHERE b.rollout_id = ${rolloutId} ORDER BY b.batch_index`.execute(db);
  return rows.rows.map((r) => ({
    index: r.batch_index,
    phase: r.phase as BatchPhase,
    instanceCount: r.instance_count,
    healthyCount: r.healthy_count,
    failedCount: r.failed_count,
    startedAt: r.started_at,
    completedAt: r.completed_at,
    instanceIds: r.ids ?? [],
  }));
}

export interface TargetRow {
  instanceId: string;
  instanceName: string;
  batchIndex: number;
  state: TargetState;
  previousVersionId: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  outcomeReason: string | null;
}

/** Targets of a rollout in order, optionally of one batch, after a position; limit + 1 rows. */
export async function listTargets(
  db: Db,
  f: { rolloutId: string; batchIndex?: number; afterPosition?: number; limit: number },
): Promise<Array<TargetRow & { position: number }>> {
  let q = db
    .selectFrom('rollout_targets as t')
    .innerJoin('instances as i', 'i.id', 't.instance_id')
    .select([
      't.instance_id',
      'i.name',
      't.batch_index',
      't.position',
      't.state',
      't.previous_version_id',
      't.started_at',
      't.finished_at',
      't.outcome_reason',
    ])
    .where('t.rollout_id', '=', f.rolloutId)
    .orderBy('t.position')
    .limit(f.limit + 1);
  if (f.batchIndex !== undefined) q = q.where('t.batch_index', '=', f.batchIndex);
  if (f.afterPosition !== undefined) q = q.where('t.position', '>', f.afterPosition);
  return (await q.execute()).map((r) => ({
    instanceId: r.instance_id,
    instanceName: r.name,
    batchIndex: r.batch_index,
    position: r.position,
    state: r.state as TargetState,
    previousVersionId: r.previous_version_id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcomeReason: r.outcome_reason,
  }));
}

/**
 * Starts a batch: targets of terminated instances are skipped; the others get the target version as
 * their desired version, become `upgrading` with a health deadline, and get an instance_started event.
 * Returns how many started. Runs inside the runner's transaction with the rollout row locked.
 */
export async function startBatch(
  db: Db,
  b: {
    rolloutId: string;
    batchIndex: number;
    moduleId: string;
    targetVersionId: string;
    targetVersion: string;
    healthTimeoutSec: number;
    actor: string;
    now: Date;
  },
): Promise<number> {
  const deadline = new Date(b.now.getTime() + b.healthTimeoutSec * 1000);
  await sql`
    UPDATE rollout_targets t SET state = 'skipped', finished_at = ${b.now}, outcome_reason = 'instance terminated'
    FROM instances i
    WHERE t.rollout_id = ${b.rolloutId} AND t.batch_index = ${b.batchIndex} AND t.state = 'pending'
      AND i.id = t.instance_id AND i.status = 'terminated'`.execute(db);
  const r = await sql<{ n: string }>`
    WITH started AS (
      UPDATE rollout_targets SET state = 'upgrading', started_at = ${b.now}, deadline_at = ${deadline}
      WHERE rollout_id = ${b.rolloutId} AND batch_index = ${b.batchIndex} AND state = 'pending'
      RETURNING instance_id, position
    ),
    desired AS (
      INSERT INTO instance_desired_versions (instance_id, module_id, version_id, assigned_by, assigned_at)
      SELECT instance_id, ${b.moduleId}, ${b.targetVersionId}, ${b.actor}, ${b.now} FROM started
      ON CONFLICT (instance_id, module_id) DO UPDATE SET
        version_id = excluded.version_id, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at
    ),
    kinds AS (
      INSERT INTO event_kinds (kind) VALUES ('module.upgrade.instance_started') ON CONFLICT DO NOTHING
    ),
    ev AS (
      INSERT INTO events (kind, at, actor, payload)
      SELECT 'module.upgrade.instance_started', ${b.now}, ${b.actor},
             jsonb_build_object('rollout_id', ${b.rolloutId}::uuid, 'batch_index', ${b.batchIndex}::int,
                                'instance_id', instance_id, 'target_version', ${b.targetVersion}::text)
      FROM (SELECT instance_id FROM started ORDER BY position) s
    )
    SELECT count(*) AS n FROM started`.execute(db);
  await db
    .updateTable('rollout_batches')
    .set({ phase: 'running', started_at: b.now })
    .where('rollout_id', '=', b.rolloutId)
    .where('batch_index', '=', b.batchIndex)
    .execute();
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Credits `gapMs` during which the store was unreachable to every in-flight target (upgrading or rolling
 * back): its deadline moves that much later, and to no earlier than `now` plus the smaller of its
 * rollout's health_timeout_sec and `freshWindowMs` (heartbeats sent during the outage were lost).
 * Returns how many targets moved.
 */
export async function creditUnreachableTime(
  db: Db,
  c: { gapMs: number; freshWindowMs: number; now: Date },
): Promise<number> {
  const r = await sql`
    UPDATE rollout_targets t SET deadline_at = GREATEST(
      t.deadline_at + make_interval(secs => ${c.gapMs / 1000}::double precision),
      ${c.now}::timestamptz + make_interval(secs => LEAST(ro.health_timeout_sec::double precision, ${c.freshWindowMs / 1000}::double precision))
    )
    FROM rollouts ro
    WHERE ro.id = t.rollout_id AND ro.state IN ('running', 'paused', 'circuit_open', 'rolling_back')
      AND t.state IN ('upgrading', 'rolling_back')`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export interface HealthOutcome {
  instanceId: string;
  batchIndex: number;
  healthy: boolean;
  reason: string;
  at: Date;
}

/**
 * Judges upgrading targets from their instances' heartbeats: healthy when the instance heartbeated the
 * target digest with health ok after the start and by the deadline; failed when it reports failure on the
 * target digest, is terminated, or the deadline passed. Writes the outcomes; returns them in outcome order.
 */
export async function judgeUpgrading(
  db: Db,
  j: { rolloutId: string; moduleName: string; targetDigest: string; now: Date },
): Promise<HealthOutcome[]> {
  const rows = await sql<{
    instance_id: string;
    batch_index: number;
    state: string;
    reason: string;
    outcome_at: Date;
    position: number;
  }>`
    WITH ev AS (
      SELECT t.instance_id, t.position,
        CASE
          WHEN i.status = 'terminated' THEN 'failed'
          WHEN i.last_heartbeat_at >= t.started_at AND i.last_heartbeat_at <= t.deadline_at
               AND i.running_module_digests ->> ${j.moduleName} = ${j.targetDigest} AND i.health = 'ok' THEN 'healthy'
          WHEN i.last_heartbeat_at >= t.started_at AND i.health = 'failed'
               AND i.running_module_digests ->> ${j.moduleName} = ${j.targetDigest} THEN 'failed'
          WHEN t.deadline_at <= ${j.now} THEN 'failed'
        END AS outcome,
        CASE
          WHEN i.status = 'terminated' THEN 'instance terminated'
          WHEN i.last_heartbeat_at >= t.started_at AND i.last_heartbeat_at <= t.deadline_at
               AND i.running_module_digests ->> ${j.moduleName} = ${j.targetDigest} AND i.health = 'ok' THEN 'heartbeat with target digest, health ok'
          WHEN i.last_heartbeat_at >= t.started_at AND i.health = 'failed'
               AND i.running_module_digests ->> ${j.moduleName} = ${j.targetDigest} THEN 'agent reported health failed'
          ELSE 'no healthy heartbeat with the target digest within health_timeout_sec'
        END AS reason,
        CASE
          WHEN i.last_heartbeat_at >= t.started_at AND i.last_heartbeat_at <= t.deadline_at THEN i.last_heartbeat_at
          ELSE t.deadline_at
        END AS outcome_at
      FROM rollout_targets t JOIN instances i ON i.id = t.instance_id
      WHERE t.rollout_id = ${j.rolloutId} AND t.state = 'upgrading'
    )
    UPDATE rollout_targets t SET state = ev.outcome, finished_at = ${j.now}, outcome_reason = ev.reason
    FROM ev
    WHERE t.rollout_id = ${j.rolloutId} AND t.instance_id = ev.instance_id AND ev.outcome IS NOT NULL
    RETURNING t.instance_id, t.batch_index, t.state, ev.reason, ev.outcome_at, ev.position`.execute(db);
  return rows.rows
    .map((r) => ({
      instanceId: r.instance_id,
      batchIndex: r.batch_index,
      healthy: r.state === 'healthy',
      reason: r.reason,
      at: r.outcome_at,
      position: r.position,
    }))
    .sort((a, b) => a.at.getTime() - b.at.getTime() || a.position - b.position)
    .map(({ position: _p, ...o }) => o);
}

/** Counts of a batch's targets by state. */
export async function batchCounts(db: Db, rolloutId: string, batchIndex: number): Promise<Record<TargetState, number>> {
  const rows = await sql<{ state: TargetState; n: string }>`
    SELECT state, count(*) AS n FROM rollout_targets WHERE rollout_id = ${rolloutId} AND batch_index = ${batchIndex} GROUP BY state`.execute(
    db,
  );
  const out = { pending: 0, upgrading: 0, healthy: 0, failed: 0, rolling_back: 0, rolled_back: 0, skipped: 0 };
  for (const r of rows.rows) out[r.state] = Number(r.n);
  return out;
}

export async function setBatchPhase(
  db: Db,
  b: { rolloutId: string; batchIndex: number; phase: BatchPhase; healthy?: number; failed?: number; at: Date },
): Promise<void> {
  await db
    .updateTable('rollout_batches')
    .set({
      phase: b.phase,
      ...(b.phase === 'completed' || b.phase === 'halted' ? { completed_at: b.at } : {}),
      ...(b.healthy === undefined ? {} : { healthy_count: b.healthy }),
      ...(b.failed === undefined ? {} : { failed_count: b.failed }),
    })
    .where('rollout_id', '=', b.rolloutId)
    .where('batch_index', '=', b.batchIndex)
    .execute();
}

/** Names of archived versions that a rollback of this rollout would have to restore. */
export async function archivedRollbackVersions(db: Db, rolloutId: string): Promise<string[]> {
  const rows = await sql<{ version: string }>`
    SELECT DISTINCT mv.version FROM rollout_targets t JOIN module_versions mv ON mv.id = t.previous_version_id
    WHERE t.rollout_id = ${rolloutId} AND t.state IN ('upgrading', 'healthy', 'failed') AND mv.lifecycle_state = 'archived'
    ORDER BY mv.version`.execute(db);
  return rows.rows.map((r) => r.version);
}

/**
 * Starts a rollback: every instance the rollout changed gets its previous desired version back and
 * becomes `rolling_back`; pending targets are skipped. An instance that had no override of its own
 * and whose group baseline still is that version loses the override (it follows the group again);
 * the others get the previous version pinned (or lose the override when there was no version at all).
 */
export async function startRollback(
  db: Db,
  r: { rolloutId: string; moduleId: string; healthTimeoutSec: number; actor: string; now: Date },
): Promise<number> {
  const deadline = new Date(r.now.getTime() + r.healthTimeoutSec * 1000);
  await sql`
    UPDATE rollout_targets SET state = 'skipped', finished_at = ${r.now}, outcome_reason = 'not started before rollback'
    WHERE rollout_id = ${r.rolloutId} AND state = 'pending'`.execute(db);
  const changed = await sql<{ n: string }>`
    WITH rb AS (
      UPDATE rollout_targets SET state = 'rolling_back', started_at = ${r.now}, deadline_at = ${deadline}, outcome_reason = NULL
      WHERE rollout_id = ${r.rolloutId} AND state IN ('upgrading', 'healthy', 'failed')
      RETURNING instance_id, previous_version_id, previous_override
    ),
    how AS (
      SELECT rb.instance_id, rb.previous_version_id,
        rb.previous_version_id IS NULL OR (NOT rb.previous_override AND EXISTS (
          SELECT 1 FROM instances i JOIN group_module_versions g ON g.group_id = i.group_id AND g.module_id = ${r.moduleId}
          WHERE i.id = rb.instance_id AND g.version_id = rb.previous_version_id
        )) AS unpin
      FROM rb
    ),
    restore AS (
      INSERT INTO instance_desired_versions (instance_id, module_id, version_id, assigned_by, assigned_at)
      SELECT instance_id, ${r.moduleId}, previous_version_id, ${r.actor}, ${r.now} FROM how WHERE NOT unpin
      ON CONFLICT (instance_id, module_id) DO UPDATE SET
        version_id = excluded.version_id, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at
    ),
    unset AS (
      DELETE FROM instance_desired_versions d USING how
      WHERE how.unpin AND d.instance_id = how.instance_id AND d.module_id = ${r.moduleId}
    )
    SELECT count(*) AS n FROM rb`.execute(db);
  return Number(changed.rows[0]?.n ?? 0);
}

/** Judges rolling-back targets: done when the instance runs its previous digest (or had none); failed at the deadline. */
export async function judgeRollingBack(
  db: Db,
  j: { rolloutId: string; moduleName: string; now: Date },
): Promise<{ remaining: number }> {
  await sql`
    WITH ev AS (
      SELECT t.instance_id,
        CASE
          WHEN t.previous_version_id IS NULL OR i.status = 'terminated' THEN 'rolled_back'
          WHEN i.running_module_digests ->> ${j.moduleName} = mv.digest AND i.last_heartbeat_at >= t.started_at THEN 'rolled_back'
          WHEN t.deadline_at <= ${j.now} THEN 'failed'
        END AS outcome
      FROM rollout_targets t
      JOIN instances i ON i.id = t.instance_id
      LEFT JOIN module_versions mv ON mv.id = t.previous_version_id
      WHERE t.rollout_id = ${j.rolloutId} AND t.state = 'rolling_back'
    )
    UPDATE rollout_targets t SET state = ev.outcome, finished_at = ${j.now},
      outcome_reason = CASE WHEN ev.outcome = 'failed' THEN 'rollback not confirmed within health_timeout_sec' ELSE 'previous version restored' END
    FROM ev WHERE t.rollout_id = ${j.rolloutId} AND t.instance_id = ev.instance_id AND ev.outcome IS NOT NULL`.execute(
    db,
  );
  const remaining = await sql<{ n: string }>`
    SELECT count(*) AS n FROM rollout_targets WHERE rollout_id = ${j.rolloutId} AND state = 'rolling_back'`.execute(db);
  return { remaining: Number(remaining.rows[0]?.n ?? 0) };
}

/** Instances whose rollback was not confirmed before its deadline (read once, when a rollback ends). */
export async function countUnconfirmedRollbacks(db: Db, rolloutId: string): Promise<number> {
  const r = await sql<{ n: string }>`
    SELECT count(*) AS n FROM rollout_targets
    WHERE rollout_id = ${rolloutId} AND state = 'failed' AND outcome_reason LIKE 'rollback%'`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * After completion of a group rollout: the group's baseline becomes the target and per-instance overrides
 * equal to it are dropped. (A rollout scoped to instances keeps their overrides and is not promoted.)
 */
export async function promoteBaseline(
  db: Db,
  c: { rolloutId: string; groupId: string; moduleId: string; targetVersionId: string; actor: string; now: Date },
): Promise<void> {
  await sql`
    INSERT INTO group_module_versions (group_id, module_id, version_id, assigned_by, assigned_at)
    VALUES (${c.groupId}, ${c.moduleId}, ${c.targetVersionId}, ${c.actor}, ${c.now})
    ON CONFLICT (group_id, module_id) DO UPDATE SET version_id = excluded.version_id,
      assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at`.execute(db);
  await sql`
    DELETE FROM instance_desired_versions d USING rollout_targets t
    WHERE t.rollout_id = ${c.rolloutId} AND d.instance_id = t.instance_id
      AND d.module_id = ${c.moduleId} AND d.version_id = ${c.targetVersionId}`.execute(db);
}
