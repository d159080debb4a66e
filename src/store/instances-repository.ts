// Instances: enrollment, reads, termination, desired versions and drift. Heartbeat writes live in
// heartbeat-repository.ts. Plain functions taking `db` or `trx` first.
import { sql } from 'kysely';
import type { AgentHealth, DesiredVersion, Instance, InstanceStatus } from '../domain/fleet.js';
import type { Db } from './executor.js';

function instanceQuery(db: Db) {
  return db
    .selectFrom('instances as i')
    .innerJoin('groups as g', 'g.id', 'i.group_id')
    .select([
      'i.id',
      'i.name',
      'i.group_id',
      'g.name as group_name',
      'i.region',
      'i.labels',
      'i.status',
      'i.health',
      'i.agent_status',
      'i.running_module_digests',
      'i.enrolled_at',
      'i.last_heartbeat_at',
      'i.terminated_at',
    ]);
}

type InstanceRow = Awaited<ReturnType<ReturnType<typeof instanceQuery>['executeTakeFirstOrThrow']>>;

function toInstance(r: InstanceRow): Instance {
  return {
    id: r.id,
    name: r.name,
    groupId: r.group_id,
    groupName: r.group_name,
    region: r.region,
    labels: r.labels,
    status: r.status as InstanceStatus,
    health: r.health as AgentHealth | 'unknown',
    agentStatus: r.agent_status,
    runningModuleDigests: r.running_module_digests,
    enrolledAt: r.enrolled_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    terminatedAt: r.terminated_at,
  };
}

export interface EnrollRow {
  groupId: string;
  name: string;
  region: string | null;
  labels: Record<string, string>;
  agentTokenHash: string;
  enrollmentTokenId: string;
  runningModuleDigests: Record<string, string>;
  at: Date;
}

/**
 * Enrolls an agent: a new instance, or — when a live instance of that name is in the group — the same
 * instance with a fresh agent token (the old one stops working).
 */
export async function enrollInstance(db: Db, e: EnrollRow): Promise<{ id: string; created: boolean }> {
  const result = await sql<{ id: string; created: boolean }>`
    INSERT INTO instances (name, group_id, region, labels, status, agent_token_hash, enrollment_token_id,
                           running_module_digests, enrolled_at, last_heartbeat_at)
    VALUES (${e.name}, ${e.groupId}, ${e.region}, ${JSON.stringify(e.labels)}::jsonb, 'running', ${e.agentTokenHash},
            ${e.enrollmentTokenId}, ${JSON.stringify(e.runningModuleDigests)}::jsonb, ${e.at}, ${e.at})
    ON CONFLICT (group_id, name) WHERE status <> 'terminated' DO UPDATE SET
      agent_token_hash = excluded.agent_token_hash,
      enrollment_token_id = excluded.enrollment_token_id,
      region = excluded.region,
      labels = excluded.labels,
      running_module_digests = excluded.running_module_digests,
      status = 'running',
      last_heartbeat_at = excluded.last_heartbeat_at
    RETURNING id, (xmax = 0) AS created`.execute(db);
  return result.rows[0]!;
}

export async function findInstance(db: Db, id: string): Promise<Instance | null> {
  const row = await instanceQuery(db).where('i.id', '=', id).executeTakeFirst();
  return row === undefined ? null : toInstance(row);
}

export interface InstanceFilter {
  groupId?: string;
  status?: InstanceStatus;
  /** Instances whose running digest for this module is this digest. */
  running?: { moduleName: string; digest: string };
}

/** Instances by id order after `afterId`, filtered; limit + 1 rows. */
export async function listInstances(
  db: Db,
  f: InstanceFilter & { limit: number; afterId?: string },
): Promise<Instance[]> {
  let q = instanceQuery(db)
    .orderBy('i.id')
    .limit(f.limit + 1);
  if (f.groupId !== undefined) q = q.where('i.group_id', '=', f.groupId);
  if (f.status !== undefined) q = q.where('i.status', '=', f.status);
  if (f.afterId !== undefined) q = q.where('i.id', '>', f.afterId);
  const running = f.running;
  if (running !== undefined) {
    q = q.where(sql<boolean>`i.running_module_digests ->> ${running.moduleName} = ${running.digest}`);
  }
  return (await q.execute()).map(toInstance);
}

/** Marks an instance terminated and drops its agent token; null when it is unknown or already terminated. */
export async function terminateInstance(db: Db, id: string, by: string, at: Date): Promise<{ id: string } | null> {
  const row = await db
    .updateTable('instances')
    .set({ status: 'terminated', terminated_at: at, terminated_by: by, agent_token_hash: null })
    .where('id', '=', id)
    .where('status', '<>', 'terminated')
    .returning('id')
    .executeTakeFirst();
  return row ?? null;
}

/** Effective desired versions (instance override, else group baseline) for each instance. */
export async function desiredVersionsFor(
  db: Db,
  instanceIds: readonly string[],
): Promise<Map<string, DesiredVersion[]>> {
  const out = new Map<string, DesiredVersion[]>(instanceIds.map((id) => [id, []]));
  if (instanceIds.length === 0) return out;
  const rows = await db
    .selectFrom('instance_effective_versions')
    .selectAll()
    .where('instance_id', 'in', instanceIds)
    .orderBy('module_name')
    .execute();
  for (const r of rows) {
    out.get(r.instance_id)?.push({
      moduleId: r.module_id,
      moduleName: r.module_name,
      versionId: r.version_id,
      version: r.version,
      digest: r.digest,
    });
  }
  return out;
}

export interface DriftRow {
  instanceId: string;
  instanceName: string;
  status: InstanceStatus;
  moduleName: string;
  desiredVersion: string;
  desiredDigest: string;
  runningDigest: string | null;
}

/** Live instances of a group whose running digest differs from the desired one; counts plus up to `limit` rows. */
export async function groupDrift(
  db: Db,
  groupId: string,
  limit: number,
): Promise<{ instanceCount: number; driftedCount: number; rows: DriftRow[] }> {
  const counts = await sql<{ instance_count: string; drifted_count: string }>`
    SELECT count(*) AS instance_count,
           count(*) FILTER (WHERE EXISTS (
             SELECT 1 FROM instance_effective_versions e
             WHERE e.instance_id = i.id AND (i.running_module_digests ->> e.module_name) IS DISTINCT FROM e.digest
           )) AS drifted_count
    FROM instances i WHERE i.group_id = ${groupId} AND i.status <> 'terminated'`.execute(db);
  const rows = await sql<{
    instance_id: string;
    instance_name: string;
    status: string;
    module_name: string;
    version: string;
    digest: string;
    running: string | null;
  }>`
    SELECT i.id AS instance_id, i.name AS instance_name, i.status, e.module_name, e.version, e.digest,
           i.running_module_digests ->> e.module_name AS running
    FROM instances i
    JOIN instance_effective_versions e ON e.instance_id = i.id
    WHERE i.group_id = ${groupId} AND i.status <> 'terminated'
      AND (i.running_module_digests ->> e.module_name) IS DISTINCT FROM e.digest
    ORDER BY i.id, e.module_name
    LIMIT ${limit}`.execute(db);
  const c = counts.rows[0]!;
  return {
    instanceCount: Number(c.instance_count),
    driftedCount: Number(c.drifted_count),
    rows: rows.rows.map((r) => ({
      instanceId: r.instance_id,
      instanceName: r.instance_name,
      status: r.status as InstanceStatus,
      moduleName: r.module_name,
      desiredVersion: r.version,
      desiredDigest: r.digest,
      runningDigest: r.running,
    })),
  };
}

/** Sets a group's baseline version of a module (instances without an override follow it). */
export async function setGroupDesiredVersion(
  db: Db,
  a: { groupId: string; moduleId: string; versionId: string; by: string; at: Date },
): Promise<void> {
  await db
    .insertInto('group_module_versions')
    .values({
      group_id: a.groupId,
      module_id: a.moduleId,
      version_id: a.versionId,
      assigned_by: a.by,
      assigned_at: a.at,
    })
    .onConflict((oc) =>
      oc
        .columns(['group_id', 'module_id'])
        .doUpdateSet({ version_id: a.versionId, assigned_by: a.by, assigned_at: a.at }),
    )
    .execute();
}

/** Sets per-instance desired versions of a module for the given live instances of a group; returns how many. */
export async function setInstanceDesiredVersions(
  db: Db,
  a: { groupId: string; instanceIds: readonly string[]; moduleId: string; versionId: string; by: string; at: Date },
): Promise<number> {
  if (a.instanceIds.length === 0) return 0;
  const result = await sql`
    INSERT INTO instance_desired_versions (instance_id, module_id, version_id, assigned_by, assigned_at)
    SELECT i.id, ${a.moduleId}, ${a.versionId}, ${a.by}, ${a.at}
    FROM instances i
    WHERE i.id = ANY(${a.instanceIds}::uuid[]) AND i.group_id = ${a.groupId} AND i.status <> 'terminated'
    ON CONFLICT (instance_id, module_id) DO UPDATE SET
      version_id = excluded.version_id, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at`.execute(
    db,
  );
  return Number(result.numAffectedRows ?? 0);
}

/** The live instance an agent token belongs to, or null. */
export async function findInstanceIdByAgentToken(db: Db, tokenHash: string): Promise<string | null> {
  const row = await db
    .selectFrom('instances')
    .select('id')
    .where('agent_token_hash', '=', tokenHash)
    .where('status', '<>', 'terminated')
    .executeTakeFirst();
  return row?.id ?? null;
}
