// On the platform that runs a federated deployment's share: which instances each deployment claimed
// (`federated_deployment_assignments`, at most one deployment per instance and module), how those stand,
// which instances a share takes next, and giving them back. A share counts only the instances it
// claimed, so two deployments of one module in one group never count each other's. Plain functions
// taking `db` or `trx`.
import { sql } from 'kysely';
import { ACTIVE_ROLLOUT_STATES } from '../domain/rollout-state.js';
import type { Db } from './executor.js';

/** A share by the names it travels with; each platform resolves them to its own ids. */
export interface ShareKey {
  federatedDeploymentId: string;
  group: string;
  moduleName: string;
  version: string;
}

export interface ShareCounts {
  /** Claimed instances whose effective desired version is the share's. */
  assigned: number;
  /** Of those, running its digest, healthy. */
  runningHealthy: number;
  /** Of those, reporting another digest since they were assigned it. */
  drifted: number;
  /** Claimed instances on another version while a rolling upgrade to the share's version is active. */
  upgrading: number;
}

/** Rollout states that are moving instances to their target (a rollback moves them away). */
const MOVING = sql`(${sql.join(ACTIVE_ROLLOUT_STATES.filter((s) => s !== 'rolling_back'))})`;

/**
 * The counts of every share in `keys`, in one query, in the order given; null where the group, module or
 * version does not exist here.
 */
export async function shareCounts(db: Db, keys: readonly ShareKey[]): Promise<(ShareCounts | null)[]> {
  if (keys.length === 0) return [];
  const result = await sql<{
    ord: string;
    assigned: string;
    running_healthy: string;
    drifted: string;
    upgrading: string;
  }>`
    WITH k AS (
      SELECT * FROM unnest(${keys.map((k) => k.federatedDeploymentId)}::uuid[], ${keys.map((k) => k.group)}::text[],
                           ${keys.map((k) => k.moduleName)}::text[], ${keys.map((k) => k.version)}::text[])
        WITH ORDINALITY AS k(deployment_id, group_name, module_name, version, ord)
    ), r AS (
      SELECT k.ord, k.deployment_id, g.id AS group_id, m.id AS module_id, m.name AS module_name,
             v.id AS version_id, v.digest,
             EXISTS (SELECT 1 FROM rollouts ro WHERE ro.group_id = g.id AND ro.module_id = m.id
                       AND ro.target_version_id = v.id AND ro.state IN ${MOVING}) AS moving
      FROM k
      JOIN groups g ON g.name = k.group_name
      JOIN modules m ON m.name = k.module_name
      JOIN module_versions v ON v.module_id = m.id AND v.version = k.version
    )
    SELECT r.ord, c.* FROM r CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE e.version_id = r.version_id) AS assigned,
             count(*) FILTER (WHERE e.version_id = r.version_id
                                AND (i.running_module_digests ->> r.module_name) = r.digest
                                AND i.health = 'ok' AND i.status = 'running') AS running_healthy,
             count(*) FILTER (WHERE e.version_id = r.version_id
                                AND (i.running_module_digests ->> r.module_name) <> r.digest
                                AND i.last_heartbeat_at > COALESCE(d.assigned_at, t.assigned_at)) AS drifted,
             count(*) FILTER (WHERE e.version_id IS DISTINCT FROM r.version_id AND r.moving) AS upgrading
      FROM federated_deployment_assignments t
      JOIN instances i ON i.id = t.instance_id AND i.group_id = r.group_id AND i.status <> 'terminated'
      LEFT JOIN instance_effective_versions e ON e.instance_id = t.instance_id AND e.module_id = r.module_id
      LEFT JOIN instance_desired_versions d ON d.instance_id = t.instance_id AND d.module_id = r.module_id
      WHERE t.federated_deployment_id = r.deployment_id AND t.version_id = r.version_id
    ) c`.execute(db);
  const byOrd = new Map(result.rows.map((r) => [Number(r.ord), r]));
  return keys.map((_, i) => {
    const r = byOrd.get(i + 1);
    if (r === undefined) return null;
    return {
      assigned: Number(r.assigned),
      runningHealthy: Number(r.running_healthy),
      drifted: Number(r.drifted),
      upgrading: Number(r.upgrading),
    };
  });
}

export interface ShareIds {
  federatedDeploymentId: string;
  groupId: string;
  moduleId: string;
  moduleName: string;
  versionId: string;
}

/**
 * Up to `limit` live instances of the group a share can take next, in the order it takes them: those it
 * claimed and that are not on the version (another version of it, or an upgrade that ended elsewhere),
 * then unclaimed ones already on the version, then fresh ones, then those running another version.
 * Never one another deployment claimed for the module, nor one the share counts as assigned. (One it
 * counts as upgrading needs a rollout, so it is not direct, and while a rollout of the module is active
 * the caller asks for `directOnly`.) `direct`: the
 * instance can be assigned the version at once (it is desired on it already, or has no desired version
 * of the module and runs none of it or the version's own digest).
 * `directOnly`: only those (a rolling upgrade of the module is active in the group). `exclude`: ids the
 * caller took already.
 */
export async function shareCandidates(
  db: Db,
  a: ShareIds & { digest: string; limit: number; directOnly: boolean; exclude: readonly string[] },
): Promise<{ id: string; direct: boolean }[]> {
  if (a.limit <= 0) return [];
  const result = await sql<{ id: string; direct: boolean }>`
    SELECT id, direct FROM (
      SELECT i.id, i.name, i.status, t.instance_id IS NOT NULL AS claimed, e.version_id IS NOT DISTINCT FROM ${a.versionId} AS on_version,
             (e.version_id IS NOT DISTINCT FROM ${a.versionId}
               OR (e.version_id IS NULL AND COALESCE(i.running_module_digests ->> ${a.moduleName}, ${a.digest}) = ${a.digest}))
               AS direct,
             t.version_id AS claimed_version
      FROM instances i
      LEFT JOIN instance_effective_versions e ON e.instance_id = i.id AND e.module_id = ${a.moduleId}
      LEFT JOIN federated_deployment_assignments t ON t.instance_id = i.id AND t.module_id = ${a.moduleId}
      WHERE i.group_id = ${a.groupId} AND i.status <> 'terminated'
        AND (t.instance_id IS NULL OR t.federated_deployment_id = ${a.federatedDeploymentId})
        AND i.id <> ALL(${a.exclude}::uuid[])
    ) c
    WHERE NOT (c.claimed AND c.claimed_version = ${a.versionId} AND c.on_version)
      AND (c.direct OR NOT ${a.directOnly})
    ORDER BY c.claimed DESC, c.on_version DESC, c.direct DESC, (c.status = 'running') DESC, c.name, c.id
    LIMIT ${a.limit}`.execute(db);
  return result.rows;
}

/**
 * Claims instances for the deployment at `versionId`: an instance it claimed before is claimed again at
 * this version; one another deployment claimed for the module (a concurrent share took it first) is
 * left alone. Returns the instances claimed.
 */
export async function claimAssignments(
  db: Db,
  a: {
    federatedDeploymentId: string;
    originPeerId: string | null;
    moduleId: string;
    versionId: string;
    instanceIds: readonly string[];
    at: Date;
  },
): Promise<string[]> {
  if (a.instanceIds.length === 0) return [];
  const result = await sql<{ instance_id: string }>`
    INSERT INTO federated_deployment_assignments AS t
      (federated_deployment_id, instance_id, origin_peer_id, module_id, version_id, assigned_at)
    SELECT ${a.federatedDeploymentId}, id, ${a.originPeerId}, ${a.moduleId}, ${a.versionId}, ${a.at}
    FROM unnest(${a.instanceIds}::uuid[]) AS id
    ORDER BY id -- every claimer locks in one order: overlapping claims wait, never deadlock
    ON CONFLICT (instance_id, module_id) DO UPDATE SET
      version_id = excluded.version_id, assigned_at = excluded.assigned_at
      WHERE t.federated_deployment_id = excluded.federated_deployment_id
    RETURNING t.instance_id`.execute(db);
  return result.rows.map((r) => r.instance_id);
}

/**
 * Gives back instances the deployment's share assigned: every one outside `groupId` (the share moved) or
 * still recorded with another version (the share's version changed and nothing took them over), then the
 * `excess` most recently assigned ones of `versionId` there (the share shrank). An
 * instance's override is dropped only while it still is the deployment's version (so it falls back to its
 * group's baseline); an override someone changed since stays theirs. Returns the instances released.
 */
export async function releaseAssignments(
  db: Db,
  a: { federatedDeploymentId: string; groupId: string; moduleId: string; versionId: string; excess: number },
): Promise<string[]> {
  const result = await sql<{ instance_id: string }>`
    WITH picked AS (
      SELECT t.instance_id, t.version_id FROM federated_deployment_assignments t
      JOIN instances i ON i.id = t.instance_id
      WHERE t.federated_deployment_id = ${a.federatedDeploymentId}
        AND (i.group_id <> ${a.groupId} OR t.version_id <> ${a.versionId})
      UNION ALL
      (SELECT t.instance_id, t.version_id FROM federated_deployment_assignments t
        JOIN instances i ON i.id = t.instance_id AND i.group_id = ${a.groupId}
        JOIN instance_effective_versions e ON e.instance_id = t.instance_id AND e.module_id = ${a.moduleId}
       WHERE t.federated_deployment_id = ${a.federatedDeploymentId} AND t.version_id = ${a.versionId}
         AND e.version_id = ${a.versionId}
       ORDER BY t.assigned_at DESC, t.instance_id
       LIMIT ${Math.max(0, a.excess)})
    ),
    dropped AS (
      DELETE FROM instance_desired_versions d USING picked p
      WHERE d.instance_id = p.instance_id AND d.module_id = ${a.moduleId} AND d.version_id = p.version_id
      RETURNING d.instance_id
    )
    DELETE FROM federated_deployment_assignments t USING picked p
    WHERE t.federated_deployment_id = ${a.federatedDeploymentId} AND t.instance_id = p.instance_id
    RETURNING t.instance_id`.execute(db);
  return result.rows.map((r) => r.instance_id);
}

/**
 * Forgets every claim of a deleted deployment (created on `originPeerId`, null: here); the instances keep
 * their versions and are free for another deployment. Returns how many were forgotten.
 */
export async function forgetAssignments(
  db: Db,
  a: { federatedDeploymentId: string; originPeerId: string | null },
): Promise<number> {
  const result = await sql`
    DELETE FROM federated_deployment_assignments
    WHERE federated_deployment_id = ${a.federatedDeploymentId}
      AND origin_peer_id IS NOT DISTINCT FROM ${a.originPeerId}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
