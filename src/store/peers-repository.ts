// Federation peer rows: insert, look up by id, name or signing key, redeem an acceptance token once,
// and move a peering through accepted → active → revoked with conditional updates. Plain functions
// taking `db` or `trx` first.
import type { Selectable } from 'kysely';
import type { FederationPeer, PeerStatus, SpawnMode, SpawnRole } from '../domain/federation.js';
import type { FederationPeersTable } from './database.js';
import type { Db } from './executor.js';

export function toPeer(row: Selectable<FederationPeersTable>): FederationPeer {
  return {
    id: row.id,
    name: row.name,
    status: row.status as PeerStatus,
    spawnRole: row.spawn_role as SpawnRole,
    spawnMode: row.spawn_mode as SpawnMode,
    remotePlatformUrl: row.remote_platform_url,
    remotePlatformId: row.remote_platform_id,
    contractVersion: row.contract_version,
    publicKey: row.public_key,
    publicKeyId: row.public_key_id,
    region: row.pinned_region ?? row.region,
    declaredRegion: row.region,
    regionSource: row.pinned_region === null ? 'declared' : 'pinned',
    regionPinnedBy: row.region_pinned_by,
    regionPinnedAt: row.region_pinned_at,
    tokenExpiresAt: row.token_expires_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    lastRttMs: row.last_rtt_ms,
    chainMismatchAt: row.chain_mismatch_at,
    chainMismatchSequence: row.chain_mismatch_sequence === null ? null : Number(row.chain_mismatch_sequence),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    acceptedAt: row.accepted_at,
    activatedAt: row.activated_at,
    revokedAt: row.revoked_at,
  };
}

/** The remote side's identity, as recorded at accept. */
export interface RemoteIdentity {
  platformId: string;
  url: string;
  region: string | null;
  publicKeyPem: string;
  publicKeyId: string;
  contractVersion: string;
}

/** Inserts a proposed peering (this side the parent) carrying the hash of its acceptance token. */
export async function insertProposedPeer(
  db: Db,
  peer: {
    name: string;
    spawnMode: SpawnMode;
    remotePlatformUrl: string | null;
    tokenHash: string;
    tokenExpiresAt: Date;
    createdBy: string;
    at: Date;
  },
): Promise<FederationPeer> {
  const row = await db
    .insertInto('federation_peers')
    .values({
      name: peer.name,
      status: 'proposed',
      spawn_role: 'parent',
      spawn_mode: peer.spawnMode,
      remote_platform_url: peer.remotePlatformUrl,
      acceptance_token_hash: peer.tokenHash,
      token_expires_at: peer.tokenExpiresAt,
      created_by: peer.createdBy,
      created_at: peer.at,
      updated_at: peer.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPeer(row);
}

/** Inserts the child side of a peering, already accepted by the parent. */
export async function insertAcceptedPeer(
  db: Db,
  peer: { name: string; spawnMode: SpawnMode; remote: RemoteIdentity; createdBy: string; at: Date },
): Promise<FederationPeer> {
  const row = await db
    .insertInto('federation_peers')
    .values({
      name: peer.name,
      status: 'accepted',
      spawn_role: 'child',
      spawn_mode: peer.spawnMode,
      remote_platform_url: peer.remote.url,
      remote_platform_id: peer.remote.platformId,
      contract_version: peer.remote.contractVersion,
      public_key: peer.remote.publicKeyPem,
      public_key_id: peer.remote.publicKeyId,
      region: peer.remote.region,
      created_by: peer.createdBy,
      created_at: peer.at,
      updated_at: peer.at,
      accepted_at: peer.at,
      // The accepting call activates at once; the reconciler's retry waits an interval before trying.
      last_heartbeat_sent_at: peer.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPeer(row);
}

/**
 * Redeems an acceptance token in one conditional statement: only a `proposed` peer whose token has not
 * expired moves to `accepted`, so of any number of concurrent redemptions exactly one gets the row.
 */
export async function redeemAcceptanceToken(
  db: Db,
  tokenHash: string,
  remote: RemoteIdentity,
  at: Date,
): Promise<FederationPeer | null> {
  const row = await db
    .updateTable('federation_peers')
    .set({
      status: 'accepted',
      remote_platform_url: remote.url,
      remote_platform_id: remote.platformId,
      contract_version: remote.contractVersion,
      public_key: remote.publicKeyPem,
      public_key_id: remote.publicKeyId,
      region: remote.region,
      accepted_at: at,
      updated_at: at,
    })
    .where('acceptance_token_hash', '=', tokenHash)
    .where('status', '=', 'proposed')
    .where('token_expires_at', '>', at)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

/** The peer holding an acceptance token (any status), to say why a redemption failed. */
export async function findPeerByTokenHash(db: Db, tokenHash: string): Promise<FederationPeer | null> {
  const row = await db
    .selectFrom('federation_peers')
    .selectAll()
    .where('acceptance_token_hash', '=', tokenHash)
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

export async function findPeerById(db: Db, id: string): Promise<FederationPeer | null> {
  const row = await db.selectFrom('federation_peers').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

export async function findPeerByName(db: Db, name: string): Promise<FederationPeer | null> {
  const row = await db.selectFrom('federation_peers').selectAll().where('name', '=', name).executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

/** A peering with the platform at `url` that is not revoked, if any. */
export async function findLivePeerByUrl(db: Db, url: string): Promise<FederationPeer | null> {
  const row = await db
    .selectFrom('federation_peers')
    .selectAll()
    .where('remote_platform_url', '=', url)
    .where('status', '<>', 'revoked')
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

/** `name`, or `name-2`, `name-3`, … : the first no peer row holds (revoked peerings keep their names). */
export async function freePeerName(db: Db, name: string): Promise<string> {
  const rows = await db
    .selectFrom('federation_peers')
    .select('name')
    .where((eb) => eb.or([eb('name', '=', name), eb('name', 'like', `${name.replace(/[\\%_]/g, '\\$&')}-%`)]))
    .execute();
  const taken = new Set(rows.map((r) => r.name));
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name}-${n}`;
  return candidate;
}

/** The peer whose signatures name `keyId`: the live one, else the newest revoked one (to audit it). */
export async function findPeerByKeyId(db: Db, keyId: string): Promise<FederationPeer | null> {
  const row = await db
    .selectFrom('federation_peers')
    .selectAll()
    .where('public_key_id', '=', keyId)
    .orderBy((eb) => eb.case().when('status', '=', 'revoked').then(1).else(0).end())
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

/** Moves a peer from one of `from` to `to`, stamping the matching time column; null when it was not in `from`. */
export async function transitionPeer(
  db: Db,
  id: string,
  from: readonly PeerStatus[],
  to: 'active' | 'revoked',
  at: Date,
): Promise<FederationPeer | null> {
  const row = await db
    .updateTable('federation_peers')
    .set({ status: to, updated_at: at, ...(to === 'active' ? { activated_at: at } : { revoked_at: at }) })
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}

/** Peers oldest first by (created_at, id), after the cursor's row when given; limit + 1 rows. */
export async function listPeers(
  db: Db,
  opts: { limit: number; after?: { createdAt: Date; id: string } },
): Promise<FederationPeer[]> {
  let query = db.selectFrom('federation_peers').selectAll();
  if (opts.after !== undefined) {
    const { createdAt, id } = opts.after;
    query = query.where((eb) =>
      eb.or([eb('created_at', '>', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)])]),
    );
  }
  const rows = await query
    .orderBy('created_at')
    .orderBy('id')
    .limit(opts.limit + 1)
    .execute();
  return rows.map(toPeer);
}

/**
 * Pins the region residency decisions use for a peer (`null` unpins: its declared region is used again).
 * Answers the peer as it is now, or null when there is no such peer.
 */
export async function setPinnedRegion(
  db: Db,
  peerId: string,
  pin: { region: string | null; by: string; at: Date },
): Promise<FederationPeer | null> {
  const row = await db
    .updateTable('federation_peers')
    .set({
      pinned_region: pin.region,
      region_pinned_by: pin.region === null ? null : pin.by,
      region_pinned_at: pin.region === null ? null : pin.at,
      updated_at: pin.at,
    })
    .where('id', '=', peerId)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toPeer(row);
}
