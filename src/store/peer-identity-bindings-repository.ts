// Peer identity binding rows: insert, find the live binding a call names, list, and revoke with a
// conditional update. Plain functions taking `db` or `trx` first.
import type { PeerIdentityBinding } from '../domain/peer-identity.js';
import type { Role } from '../domain/roles.js';
import type { Db } from './executor.js';

const COLUMNS = [
  'b.id',
  'b.federation_peer_id',
  'b.remote_operator',
  'b.local_operator_id',
  'b.reason',
  'b.created_by',
  'b.created_at',
  'b.revoked_at',
  'b.revoked_by',
  'p.name as peer_name',
  'o.name as local_operator',
  'o.role as local_operator_role',
  'o.revoked_at as local_operator_revoked_at',
] as const;

function bindings(db: Db) {
  return db
    .selectFrom('peer_identity_bindings as b')
    .innerJoin('federation_peers as p', 'p.id', 'b.federation_peer_id')
    .innerJoin('operators as o', 'o.id', 'b.local_operator_id')
    .select(COLUMNS);
}

type Row = Awaited<ReturnType<ReturnType<typeof bindings>['executeTakeFirstOrThrow']>>;

function toBinding(row: Row): PeerIdentityBinding {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    peerName: row.peer_name,
    remoteOperator: row.remote_operator,
    localOperatorId: row.local_operator_id,
    localOperator: row.local_operator,
    localOperatorRole: row.local_operator_role as Role,
    localOperatorActive: row.local_operator_revoked_at === null,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export interface NewBinding {
  peerId: string;
  remoteOperator: string;
  localOperatorId: string;
  reason: string | null;
  createdBy: string;
  at: Date;
}

/** Inserts a live binding; null when (peer, remote operator) already has one. */
export async function insertBinding(db: Db, binding: NewBinding): Promise<PeerIdentityBinding | null> {
  const row = await db
    .insertInto('peer_identity_bindings')
    .values({
      federation_peer_id: binding.peerId,
      remote_operator: binding.remoteOperator,
      local_operator_id: binding.localOperatorId,
      reason: binding.reason,
      created_by: binding.createdBy,
      created_at: binding.at,
    })
    .onConflict((oc) =>
      oc.columns(['federation_peer_id', 'remote_operator']).where('revoked_at', 'is', null).doNothing(),
    )
    .returning('id')
    .executeTakeFirst();
  return row === undefined ? null : findBindingById(db, row.id);
}

export async function findBindingById(db: Db, id: string): Promise<PeerIdentityBinding | null> {
  const row = await bindings(db).where('b.id', '=', id).executeTakeFirst();
  return row === undefined ? null : toBinding(row);
}

/** The live binding of `remoteOperator` from `peerId`, or null when none is. */
export async function findLiveBinding(
  db: Db,
  peerId: string,
  remoteOperator: string,
): Promise<PeerIdentityBinding | null> {
  const row = await bindings(db)
    .where('b.federation_peer_id', '=', peerId)
    .where('b.remote_operator', '=', remoteOperator)
    .where('b.revoked_at', 'is', null)
    .executeTakeFirst();
  return row === undefined ? null : toBinding(row);
}

/** Bindings oldest first by (created_at, id), optionally one peer's and live or revoked only; limit + 1 rows. */
export async function listBindings(
  db: Db,
  opts: { peerId?: string; live?: boolean; limit: number; after?: { createdAt: Date; id: string } },
): Promise<PeerIdentityBinding[]> {
  let query = bindings(db);
  if (opts.peerId !== undefined) query = query.where('b.federation_peer_id', '=', opts.peerId);
  if (opts.live !== undefined) query = query.where('b.revoked_at', opts.live ? 'is' : 'is not', null);
  if (opts.after !== undefined) {
    const { createdAt, id } = opts.after;
    query = query.where((eb) =>
      eb.or([eb('b.created_at', '>', createdAt), eb.and([eb('b.created_at', '=', createdAt), eb('b.id', '>', id)])]),
    );
  }
  const rows = await query
    .orderBy('b.created_at')
    .orderBy('b.id')
    .limit(opts.limit + 1)
    .execute();
  return rows.map(toBinding);
}

/** Marks a live binding revoked; null when it was already revoked. */
export async function revokeBinding(db: Db, id: string, by: string, at: Date): Promise<PeerIdentityBinding | null> {
  const row = await db
    .updateTable('peer_identity_bindings')
    .set({ revoked_at: at, revoked_by: by })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row === undefined ? null : findBindingById(db, row.id);
}
