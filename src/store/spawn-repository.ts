// Spawned child platforms and cluster members: insert, look up, move a child's status with conditional
// updates, and keep each platform process's cluster_members row fresh. Plain functions taking `db` or
// `trx` first.
import type { Selectable } from 'kysely';
import type { SpawnMode } from '../domain/federation.js';
import type { ChildStatus, ClusterMember, SpawnedChild } from '../domain/spawn.js';
import type { ClusterMembersTable, SpawnedChildrenTable } from './database.js';
import type { Db } from './executor.js';

function toChild(row: Selectable<SpawnedChildrenTable>): SpawnedChild {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    name: row.name,
    spawnMode: row.spawn_mode as SpawnMode,
    region: row.region,
    provider: row.provider,
    url: row.url,
    port: row.port,
    dataDir: row.data_dir,
    pid: row.pid,
    hostname: row.hostname,
    status: row.status as ChildStatus,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    terminatedAt: row.terminated_at,
    lastError: row.last_error,
  };
}

function toMember(row: Selectable<ClusterMembersTable>): ClusterMember {
  return {
    id: row.id,
    name: row.name,
    region: row.region,
    url: row.url,
    pid: row.pid,
    hostname: row.hostname,
    startedAt: row.started_at,
    lastSeenAt: row.last_seen_at,
    stoppedAt: row.stopped_at,
  };
}

export interface NewSpawnedChild {
  id: string;
  federationPeerId: string | null;
  name: string;
  spawnMode: SpawnMode;
  region: string | null;
  provider: string;
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  hostname: string;
  createdBy: string;
  at: Date;
}

/** Records a child a provider just started, as `starting`. */
export async function insertSpawnedChild(db: Db, child: NewSpawnedChild): Promise<SpawnedChild> {
  const row = await db
    .insertInto('spawned_children')
    .values({
      id: child.id,
      federation_peer_id: child.federationPeerId,
      name: child.name,
      spawn_mode: child.spawnMode,
      region: child.region,
      provider: child.provider,
      url: child.url,
      port: child.port,
      data_dir: child.dataDir,
      pid: child.pid,
      hostname: child.hostname,
      status: 'starting',
      created_by: child.createdBy,
      created_at: child.at,
      updated_at: child.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toChild(row);
}

export async function findSpawnedChild(db: Db, id: string): Promise<SpawnedChild | null> {
  const row = await db.selectFrom('spawned_children').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toChild(row);
}

/** A child named `name` that is starting or running, if any. */
export async function findLiveChildByName(db: Db, name: string): Promise<SpawnedChild | null> {
  const row = await db
    .selectFrom('spawned_children')
    .selectAll()
    .where('name', '=', name)
    .where('status', 'in', ['starting', 'running'])
    .executeTakeFirst();
  return row === undefined ? null : toChild(row);
}

/** The child_instance_id of each of `peerIds` that was spawned by this platform. */
export async function childIdsByPeer(db: Db, peerIds: readonly string[]): Promise<Map<string, string>> {
  if (peerIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('spawned_children')
    .select(['id', 'federation_peer_id'])
    .where('federation_peer_id', 'in', peerIds)
    .execute();
  return new Map(rows.map((r) => [r.federation_peer_id!, r.id]));
}

/** A starting or running child with what the reconciler needs to decide its status. */
export interface LiveChild extends SpawnedChild {
  peerStatus: string | null;
  memberSeenAt: Date | null;
}

export async function listLiveChildren(db: Db): Promise<LiveChild[]> {
  const rows = await db
    .selectFrom('spawned_children as c')
    .leftJoin('federation_peers as p', 'p.id', 'c.federation_peer_id')
    .leftJoin('cluster_members as m', 'm.id', 'c.id')
    .selectAll('c')
    .select(['p.status as peer_status', 'm.last_seen_at as member_seen_at'])
    .where('c.status', 'in', ['starting', 'running'])
    .orderBy('c.created_at')
    .execute();
  return rows.map(({ peer_status, member_seen_at, ...row }) => ({
    ...toChild(row),
    peerStatus: peer_status,
    memberSeenAt: member_seen_at,
  }));
}

/** Moves a child from one of `from` to `to`; null when it was not in `from`. */
export async function transitionChild(
  db: Db,
  id: string,
  from: readonly ChildStatus[],
  to: ChildStatus,
  at: Date,
  lastError?: string,
): Promise<SpawnedChild | null> {
  const row = await db
    .updateTable('spawned_children')
    .set({
      status: to,
      updated_at: at,
      ...(to === 'terminated' ? { terminated_at: at } : {}),
      ...(lastError === undefined ? {} : { last_error: lastError }),
    })
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toChild(row);
}

/** Registers a platform process (again, after a restart, when `id` is known) as a live member. */
export async function upsertClusterMember(
  db: Db,
  member: {
    id?: string;
    name: string;
    region: string | null;
    url: string | null;
    pid: number;
    hostname: string;
    at: Date;
  },
): Promise<ClusterMember> {
  const values = {
    name: member.name,
    region: member.region,
    url: member.url,
    pid: member.pid,
    hostname: member.hostname,
    started_at: member.at,
    last_seen_at: member.at,
    stopped_at: null,
  };
  const row = await db
    .insertInto('cluster_members')
    .values(member.id === undefined ? values : { ...values, id: member.id })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toMember(row);
}

export async function touchClusterMember(db: Db, id: string, at: Date): Promise<void> {
  await db
    .updateTable('cluster_members')
    .set({ last_seen_at: at })
    .where('id', '=', id)
    .where('stopped_at', 'is', null)
    .execute();
}

export async function stopClusterMember(db: Db, id: string, at: Date): Promise<void> {
  await db
    .updateTable('cluster_members')
    .set({ stopped_at: at })
    .where('id', '=', id)
    .where('stopped_at', 'is', null)
    .execute();
}

/** Members that have not stopped and were seen after `seenAfter`, except `exceptId`, oldest first. */
export async function listLiveMembers(
  db: Db,
  opts: { exceptId: string | null; seenAfter: Date },
): Promise<ClusterMember[]> {
  let query = db
    .selectFrom('cluster_members')
    .selectAll()
    .where('stopped_at', 'is', null)
    .where('last_seen_at', '>', opts.seenAfter);
  if (opts.exceptId !== null) query = query.where('id', '<>', opts.exceptId);
  const rows = await query.orderBy('started_at').orderBy('id').execute();
  return rows.map(toMember);
}

/** Which of `ids` are spawned children of this platform. */
export async function spawnedChildIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('spawned_children').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((r) => r.id));
}
