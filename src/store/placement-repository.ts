// Placement facts in the store: what peers reported in heartbeats (capacity per group, cost per
// instance), this platform's online instances per group, and peers' boundary rules, read in bulk.
import type { BoundaryRule } from '../domain/capabilities.js';
import type { Db } from './executor.js';

/** What a peer last reported for placement; null fields were never reported. */
export interface ReportedCapacity {
  capacity: Record<string, number> | null;
  costPerInstance: number | null;
  reportedAt: Date | null;
}

/** Stores what a peer's heartbeat reported; a field it left out keeps its last value. */
export async function recordReportedCapacity(
  db: Db,
  peerId: string,
  capacity: Record<string, number> | null,
  costPerInstance: number | null,
  now: Date,
): Promise<void> {
  await db
    .updateTable('federation_peers')
    .set({
      ...(capacity === null ? {} : { reported_capacity: JSON.stringify(capacity) }),
      ...(costPerInstance === null ? {} : { reported_cost_per_instance: costPerInstance }),
      capacity_reported_at: now,
    })
    .where('id', '=', peerId)
    .execute();
}

/** Each peer's last report, by peer id (peers never heard from are absent). */
export async function findReportedCapacities(
  db: Db,
  peerIds: readonly string[],
): Promise<Map<string, ReportedCapacity>> {
  const out = new Map<string, ReportedCapacity>();
  if (peerIds.length === 0) return out;
  const rows = await db
    .selectFrom('federation_peers')
    .select(['id', 'reported_capacity', 'reported_cost_per_instance', 'capacity_reported_at'])
    .where('id', 'in', peerIds)
    .execute();
  for (const row of rows) {
    out.set(row.id, {
      capacity: row.reported_capacity,
      costPerInstance: row.reported_cost_per_instance === null ? null : Number(row.reported_cost_per_instance),
      reportedAt: row.capacity_reported_at,
    });
  }
  return out;
}

/** Online (running) instances per group name, in one grouped query. */
export async function countOnlineInstancesByGroup(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('instances as i')
    .innerJoin('groups as g', 'g.id', 'i.group_id')
    .select(['g.name as name', (eb) => eb.fn.countAll<string>().as('n')])
    .where('i.status', '=', 'running')
    .groupBy('g.name')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

/** The ingress boundary rules of several peers, by peer id, in one query. */
export async function listIngressRulesByPeer(
  db: Db,
  peerIds: readonly string[],
): Promise<Map<string, Pick<BoundaryRule, 'id' | 'action' | 'capability' | 'priority'>[]>> {
  const out = new Map<string, Pick<BoundaryRule, 'id' | 'action' | 'capability' | 'priority'>[]>();
  if (peerIds.length === 0) return out;
  const rows = await db
    .selectFrom('boundary_rules')
    .select(['id', 'federation_peer_id', 'action', 'capability', 'priority'])
    .where('federation_peer_id', 'in', peerIds)
    .where('direction', '=', 'ingress')
    .orderBy('priority')
    .execute();
  for (const row of rows) {
    const list = out.get(row.federation_peer_id) ?? [];
    list.push({
      id: row.id,
      action: row.action as BoundaryRule['action'],
      capability: row.capability as BoundaryRule['capability'],
      priority: row.priority,
    });
    out.set(row.federation_peer_id, list);
  }
  return out;
}

/**
 * Replicas the active federated deployments of `moduleName` created here hold on each platform, by
 * `${peerId ?? 'local'}/${group}`: an instance runs one deployment of a module, so they are not free for
 * another. `exceptDeploymentId`: the deployment being placed (its own shares are not taken from it).
 */
export async function countDeploymentReplicas(
  db: Db,
  a: { moduleName: string; exceptDeploymentId: string | null },
): Promise<Map<string, number>> {
  let q = db
    .selectFrom('federated_deployment_shares as s')
    .innerJoin('federated_deployments as d', 'd.id', 's.federated_deployment_id')
    .select(['s.federation_peer_id', 's.group_name', (eb) => eb.fn.sum<string>('s.desired_replicas').as('n')])
    .where('d.state', '=', 'active')
    .where('d.module_name', '=', a.moduleName)
    .groupBy(['s.federation_peer_id', 's.group_name']);
  if (a.exceptDeploymentId !== null) q = q.where('d.id', '<>', a.exceptDeploymentId);
  const rows = await q.execute();
  return new Map(rows.map((r) => [replicasKey(r.federation_peer_id, r.group_name), Number(r.n)]));
}

export function replicasKey(peerId: string | null, group: string): string {
  return `${peerId ?? 'local'}/${group}`;
}
