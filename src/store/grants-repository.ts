// Federation grant rows: insert, look up, list, revoke and archive with conditional updates, find the
// active grant that authorizes a capability, and flip a peering's spawn mode on emancipation. Plain
// functions taking `db` or `trx` first.
import { sql, type Selectable } from 'kysely';
import type { FederationGrant, GrantDirection, GrantScope, GrantStatus } from '../domain/capabilities.js';
import type { FederationGrantsTable } from './database.js';
import type { Db } from './executor.js';

type GrantRow = Selectable<FederationGrantsTable> & { peer_name: string };

const GRANT_COLUMNS = [
  'g.id',
  'g.federation_peer_id',
  'g.direction',
  'g.scopes',
  'g.status',
  'g.expires_at',
  'g.issued_by',
  'g.reason',
  'g.created_at',
  'g.revoked_at',
  'g.revoked_by',
  'g.archived_at',
  'p.name as peer_name',
] as const;

function toGrant(row: GrantRow): FederationGrant {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    peerName: row.peer_name,
    direction: row.direction as GrantDirection,
    scopes: row.scopes as GrantScope[],
    status: row.status as GrantStatus,
    expiresAt: row.expires_at,
    issuedBy: row.issued_by,
    reason: row.reason,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    archivedAt: row.archived_at,
  };
}

function grants(db: Db) {
  return db
    .selectFrom('federation_grants as g')
    .innerJoin('federation_peers as p', 'p.id', 'g.federation_peer_id')
    .select(GRANT_COLUMNS);
}

/** Returns the grants with the given ids, joined with their peer names, in `ids` order. */
async function reread(db: Db, ids: string[]): Promise<FederationGrant[]> {
  if (ids.length === 0) return [];
  const rows = await grants(db).where('g.id', 'in', ids).execute();
  const byId = new Map(rows.map((r) => [r.id, toGrant(r)]));
  return ids.map((id) => byId.get(id)!);
}

export interface NewGrant {
  peerId: string;
  direction: GrantDirection;
  scopes: GrantScope[];
  expiresAt: Date;
  issuedBy: string;
  reason: string | null;
  at: Date;
}

export async function insertGrant(db: Db, grant: NewGrant): Promise<FederationGrant> {
  const row = await db
    .insertInto('federation_grants')
    .values({
      federation_peer_id: grant.peerId,
      direction: grant.direction,
      scopes: grant.scopes,
      status: 'active',
      expires_at: grant.expiresAt,
      issued_by: grant.issuedBy,
      reason: grant.reason,
      created_at: grant.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return (await reread(db, [row.id]))[0]!;
}

export async function findGrantById(db: Db, id: string): Promise<FederationGrant | null> {
  const row = await grants(db).where('g.id', '=', id).executeTakeFirst();
  return row === undefined ? null : toGrant(row);
}

/** Grants oldest first by (created_at, id), optionally one peer's and one status; limit + 1 rows. */
export async function listGrants(
  db: Db,
  opts: { peerId?: string; status?: GrantStatus; limit: number; after?: { createdAt: Date; id: string } },
): Promise<FederationGrant[]> {
  let query = grants(db);
  if (opts.peerId !== undefined) query = query.where('g.federation_peer_id', '=', opts.peerId);
  if (opts.status !== undefined) query = query.where('g.status', '=', opts.status);
  if (opts.after !== undefined) {
    const { createdAt, id } = opts.after;
    query = query.where((eb) =>
      eb.or([eb('g.created_at', '>', createdAt), eb.and([eb('g.created_at', '=', createdAt), eb('g.id', '>', id)])]),
    );
  }
  const rows = await query
    .orderBy('g.created_at')
    .orderBy('g.id')
    .limit(opts.limit + 1)
    .execute();
  return rows.map(toGrant);
}

/** Marks an active grant revoked; null when it was not active. */
export async function revokeGrant(db: Db, id: string, by: string, at: Date): Promise<FederationGrant | null> {
  const row = await db
    .updateTable('federation_grants')
    .set({ status: 'revoked', revoked_at: at, revoked_by: by })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .returning('id')
    .executeTakeFirst();
  return row === undefined ? null : (await reread(db, [row.id]))[0]!;
}

/** Marks every active grant of one peer and direction revoked; returns them. */
export async function revokePeerGrants(
  db: Db,
  peerId: string,
  direction: GrantDirection,
  by: string,
  at: Date,
): Promise<FederationGrant[]> {
  const rows = await db
    .updateTable('federation_grants')
    .set({ status: 'revoked', revoked_at: at, revoked_by: by })
    .where('federation_peer_id', '=', peerId)
    .where('direction', '=', direction)
    .where('status', '=', 'active')
    .returning('id')
    .execute();
  return reread(
    db,
    rows.map((r) => r.id),
  );
}

/**
 * Archives, in one statement, up to `limit` active grants whose expiry has passed. Rows another sweeper
 * holds are skipped, so replicas sweeping together archive each grant once.
 */
export async function archiveExpiredGrants(db: Db, now: Date, limit: number): Promise<FederationGrant[]> {
  const result = await sql<GrantRow>`
    WITH due AS (
      SELECT id FROM federation_grants
      WHERE status = 'active' AND expires_at <= ${now}
      ORDER BY expires_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), archived AS (
      UPDATE federation_grants g SET status = 'archived', archived_at = ${now}
      FROM due WHERE g.id = due.id AND g.status = 'active'
      RETURNING g.*
    )
    SELECT a.*, p.name AS peer_name
    FROM archived a JOIN federation_peers p ON p.id = a.federation_peer_id
    ORDER BY a.expires_at, a.id`.execute(db);
  return result.rows.map(toGrant);
}

/** The active, unexpired grant of `direction` to `peerId` holding any of `scopes`, newest first. */
export async function findActiveGrant(
  db: Db,
  peerId: string,
  direction: GrantDirection,
  scopes: readonly GrantScope[],
  now: Date,
): Promise<FederationGrant | null> {
  if (scopes.length === 0) return null;
  const row = await grants(db)
    .where('g.federation_peer_id', '=', peerId)
    .where('g.direction', '=', direction)
    .where('g.status', '=', 'active')
    .where('g.expires_at', '>', now)
    .where(sql<boolean>`g.scopes && ${[...scopes]}::text[]`)
    .orderBy('g.created_at', 'desc')
    .orderBy('g.id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? null : toGrant(row);
}

/** Sets a peering's spawn mode from `from` to `to`; false when it was not in `from`. */
export async function changePeerSpawnMode(
  db: Db,
  peerId: string,
  from: string,
  to: string,
  at: Date,
): Promise<boolean> {
  const row = await db
    .updateTable('federation_peers')
    .set({ spawn_mode: to, updated_at: at })
    .where('id', '=', peerId)
    .where('spawn_mode', '=', from)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
