// Reads behind what peers may ask of this platform (its fleet counted and listed, its module versions)
// and behind the federation topology (every peering with its ingress rules and residency policy).
// Plain functions taking `db` or `trx` first; nothing here writes.
import type { FederationPeer } from '../domain/federation.js';
import type { Db } from './executor.js';
import { toPeer } from './peers-repository.js';

export interface FleetCountRow {
  group: string;
  status: string;
  region: string | null;
  count: number;
}

/** Non-terminated instances counted by (group, status, region), optionally of one group. */
export async function countFleet(db: Db, groupId?: string): Promise<FleetCountRow[]> {
  let query = db
    .selectFrom('instances as i')
    .innerJoin('groups as g', 'g.id', 'i.group_id')
    .select((eb) => ['g.name as group', 'i.status', 'i.region', eb.fn.countAll<string>().as('n')])
    .where('i.status', '<>', 'terminated')
    .groupBy(['g.name', 'i.status', 'i.region']);
  if (groupId !== undefined) query = query.where('i.group_id', '=', groupId);
  const rows = await query.execute();
  return rows.map((r) => ({ group: r.group, status: r.status, region: r.region, count: Number(r.n) }));
}

export interface FleetInstanceRow {
  name: string;
  group: string;
  region: string | null;
  status: string;
  lastHeartbeatAt: Date | null;
  runningModuleDigests: Record<string, string>;
}

/** Non-terminated instances by group and name, at most `limit`. */
export async function listFleetInstances(
  db: Db,
  opts: { groupId?: string; limit: number },
): Promise<FleetInstanceRow[]> {
  let query = db
    .selectFrom('instances as i')
    .innerJoin('groups as g', 'g.id', 'i.group_id')
    .select(['i.name', 'g.name as group', 'i.region', 'i.status', 'i.last_heartbeat_at', 'i.running_module_digests'])
    .where('i.status', '<>', 'terminated')
    .orderBy('g.name')
    .orderBy('i.name')
    .limit(opts.limit);
  if (opts.groupId !== undefined) query = query.where('i.group_id', '=', opts.groupId);
  const rows = await query.execute();
  return rows.map((r) => ({
    name: r.name,
    group: r.group,
    region: r.region,
    status: r.status,
    lastHeartbeatAt: r.last_heartbeat_at,
    runningModuleDigests: r.running_module_digests,
  }));
}

export interface ModuleVersionRow {
  module: string;
  version: string;
  lifecycleState: string;
  digest: string;
  createdAt: Date;
}

/** Versions by module name, oldest first within a module, optionally of one module; at most `limit`. */
export async function listModuleVersionRows(
  db: Db,
  opts: { moduleId?: string; limit: number },
): Promise<ModuleVersionRow[]> {
  let query = db
    .selectFrom('module_versions as v')
    .innerJoin('modules as m', 'm.id', 'v.module_id')
    .select(['m.name as module', 'v.version', 'v.lifecycle_state', 'v.digest', 'v.created_at'])
    .orderBy('m.name')
    .orderBy('v.created_at')
    .orderBy('v.id')
    .limit(opts.limit);
  if (opts.moduleId !== undefined) query = query.where('v.module_id', '=', opts.moduleId);
  const rows = await query.execute();
  return rows.map((r) => ({
    module: r.module,
    version: r.version,
    lifecycleState: r.lifecycle_state,
    digest: r.digest,
    createdAt: r.created_at,
  }));
}

/** Every peering oldest first; revoked ones only when asked. */
export async function listAllPeers(db: Db, opts: { includeRevoked: boolean }): Promise<FederationPeer[]> {
  let query = db.selectFrom('federation_peers').selectAll().orderBy('created_at').orderBy('id');
  if (!opts.includeRevoked) query = query.where('status', '<>', 'revoked');
  return (await query.execute()).map(toPeer);
}
