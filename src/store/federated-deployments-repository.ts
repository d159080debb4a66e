// Federated deployments and their shares on the platform that created them: insert, read, page, mark
// deleted, update a share from its platform's report. Plain functions taking `db` or `trx`.
import { sql, type Selectable } from 'kysely';
import type {
  DeploymentRollout,
  DeploymentShare,
  FederatedDeployment,
  FederatedDeploymentState,
  ShareOverrides,
  ShareState,
} from '../domain/federated-deployment.js';
import type { PlacementPolicy } from '../domain/placement.js';
import type { FederatedDeploymentSharesTable, FederatedDeploymentsTable } from './database.js';
import type { Db } from './executor.js';

function toDeployment(r: Selectable<FederatedDeploymentsTable>): FederatedDeployment {
  return {
    id: r.id,
    name: r.name,
    moduleName: r.module_name,
    version: r.version,
    replicas: r.replicas,
    groupName: r.group_name,
    includeLocal: r.include_local,
    placement: r.placement as unknown as PlacementPolicy,
    overrides: r.overrides as unknown as ShareOverrides,
    peers: r.peers,
    failback: r.failback,
    rollout: r.rollout as unknown as DeploymentRollout,
    state: r.state as FederatedDeploymentState,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  };
}

function toShare(r: Selectable<FederatedDeploymentSharesTable>): DeploymentShare {
  return {
    id: r.id,
    federatedDeploymentId: r.federated_deployment_id,
    federationPeerId: r.federation_peer_id,
    peerName: r.peer_name,
    plannedReplicas: r.planned_replicas,
    desiredReplicas: r.desired_replicas,
    version: r.version,
    groupName: r.group_name,
    assigned: r.assigned,
    runningHealthy: r.running_healthy,
    drifted: r.drifted,
    lastContactAt: r.last_contact_at,
    propagatedAt: r.propagated_at,
    lastError: r.last_error,
    state: r.state as ShareState,
    updatedAt: r.updated_at,
  };
}

export interface NewFederatedDeployment {
  name: string;
  moduleName: string;
  version: string;
  replicas: number;
  groupName: string;
  includeLocal: boolean;
  placement: PlacementPolicy;
  overrides: ShareOverrides;
  peers: readonly string[];
  failback: boolean;
  rollout: DeploymentRollout;
  createdBy: string;
  at: Date;
}

export async function insertFederatedDeployment(db: Db, d: NewFederatedDeployment): Promise<FederatedDeployment> {
  const row = await db
    .insertInto('federated_deployments')
    .values({
      name: d.name,
      module_name: d.moduleName,
      version: d.version,
      replicas: d.replicas,
      group_name: d.groupName,
      include_local: d.includeLocal,
      placement: JSON.stringify(d.placement),
      overrides: JSON.stringify(d.overrides),
      peers: JSON.stringify(d.peers),
      failback: d.failback,
      rollout: JSON.stringify(d.rollout),
      state: 'active',
      created_by: d.createdBy,
      created_at: d.at,
      updated_at: d.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toDeployment(row);
}

export interface NewShare {
  federatedDeploymentId: string;
  federationPeerId: string | null;
  peerName: string;
  plannedReplicas: number;
  desiredReplicas: number;
  version: string;
  groupName: string;
  at: Date;
}

export async function insertShare(db: Db, s: NewShare): Promise<DeploymentShare> {
  const row = await db
    .insertInto('federated_deployment_shares')
    .values({
      federated_deployment_id: s.federatedDeploymentId,
      federation_peer_id: s.federationPeerId,
      peer_name: s.peerName,
      planned_replicas: s.plannedReplicas,
      desired_replicas: s.desiredReplicas,
      version: s.version,
      group_name: s.groupName,
      state: 'pending',
      updated_at: s.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toShare(row);
}

export async function findFederatedDeployment(
  db: Db,
  ref: { id: string } | { name: string },
  opts: { forUpdate?: boolean } = {},
): Promise<FederatedDeployment | null> {
  let q = db.selectFrom('federated_deployments').selectAll();
  q = 'id' in ref ? q.where('id', '=', ref.id) : q.where('name', '=', ref.name);
  if (opts.forUpdate === true) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toDeployment(row);
}

/** The shares of one deployment: the local share first, then by peer name. */
export async function listShares(db: Db, federatedDeploymentId: string): Promise<DeploymentShare[]> {
  const rows = await db
    .selectFrom('federated_deployment_shares')
    .selectAll()
    .where('federated_deployment_id', '=', federatedDeploymentId)
    .orderBy(sql`federation_peer_id IS NOT NULL`)
    .orderBy('peer_name')
    .execute();
  return rows.map(toShare);
}

/**
 * The shares of every active deployment, oldest deployment first (what the reconciler polls), each
 * deployment's shares in `listShares` order.
 */
export async function listActiveShares(
  db: Db,
  limit: number,
): Promise<{ deployment: FederatedDeployment; shares: DeploymentShare[] }[]> {
  const rows = await db
    .selectFrom('federated_deployments')
    .selectAll()
    .where('state', '=', 'active')
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  if (rows.length === 0) return [];
  const shares = await db
    .selectFrom('federated_deployment_shares')
    .selectAll()
    .where(
      'federated_deployment_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy(sql`federation_peer_id IS NOT NULL`)
    .orderBy('peer_name')
    .execute();
  return rows.map((r) => ({
    deployment: toDeployment(r),
    shares: shares.filter((s) => s.federated_deployment_id === r.id).map(toShare),
  }));
}

/** Newest first after the (created_at, id) cursor; limit + 1 rows. */
export async function listFederatedDeployments(
  db: Db,
  f: { limit: number; state?: FederatedDeploymentState; before?: { createdAt: Date; id: string } },
): Promise<FederatedDeployment[]> {
  let q = db.selectFrom('federated_deployments').selectAll();
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
  return rows.map(toDeployment);
}

/** Share states per deployment (list views). */
export async function countShareStates(db: Db, ids: readonly string[]): Promise<Map<string, ShareState[]>> {
  const out = new Map<string, ShareState[]>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('federated_deployment_shares')
    .select(['federated_deployment_id', 'state'])
    .where('federated_deployment_id', 'in', ids)
    .execute();
  for (const r of rows) {
    const states = out.get(r.federated_deployment_id) ?? [];
    states.push(r.state as ShareState);
    out.set(r.federated_deployment_id, states);
  }
  return out;
}

/** Marks an active deployment deleted; false when it already was. */
export async function markDeploymentDeleted(db: Db, id: string, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('federated_deployments')
    .set({ state: 'deleted', deleted_at: at, updated_at: at })
    .where('id', '=', id)
    .where('state', '=', 'active')
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** The fields an update of the deployment may change. */
export type DeploymentPatch = Pick<
  FederatedDeployment,
  'version' | 'replicas' | 'groupName' | 'includeLocal' | 'placement' | 'overrides' | 'peers' | 'failback' | 'rollout'
>;

export async function updateFederatedDeployment(db: Db, id: string, p: DeploymentPatch, at: Date): Promise<void> {
  await db
    .updateTable('federated_deployments')
    .set({
      version: p.version,
      replicas: p.replicas,
      group_name: p.groupName,
      include_local: p.includeLocal,
      placement: JSON.stringify(p.placement),
      overrides: JSON.stringify(p.overrides),
      peers: JSON.stringify(p.peers),
      failback: p.failback,
      rollout: JSON.stringify(p.rollout),
      updated_at: at,
    })
    .where('id', '=', id)
    .execute();
}

export type SharePatch = Partial<
  Pick<
    DeploymentShare,
    | 'assigned'
    | 'runningHealthy'
    | 'drifted'
    | 'lastContactAt'
    | 'propagatedAt'
    | 'lastError'
    | 'state'
    | 'plannedReplicas'
    | 'desiredReplicas'
    | 'version'
    | 'groupName'
  >
>;

export async function updateShare(db: Db, id: string, patch: SharePatch, at: Date): Promise<void> {
  await db
    .updateTable('federated_deployment_shares')
    .set({
      updated_at: at,
      ...(patch.plannedReplicas === undefined ? {} : { planned_replicas: patch.plannedReplicas }),
      ...(patch.desiredReplicas === undefined ? {} : { desired_replicas: patch.desiredReplicas }),
      ...(patch.version === undefined ? {} : { version: patch.version }),
      ...(patch.groupName === undefined ? {} : { group_name: patch.groupName }),
      ...(patch.assigned === undefined ? {} : { assigned: patch.assigned }),
      ...(patch.runningHealthy === undefined ? {} : { running_healthy: patch.runningHealthy }),
      ...(patch.drifted === undefined ? {} : { drifted: patch.drifted }),
      ...(patch.lastContactAt === undefined ? {} : { last_contact_at: patch.lastContactAt }),
      ...(patch.propagatedAt === undefined ? {} : { propagated_at: patch.propagatedAt }),
      ...(patch.lastError === undefined ? {} : { last_error: patch.lastError }),
      ...(patch.state === undefined ? {} : { state: patch.state }),
    })
    .where('id', '=', id)
    .execute();
}
