// Migration chains and their hops as this platform knows them: insert, read, page, and forward-only hop
// updates (a hop never moves back, whatever order reports arrive in). Plain functions taking `db` or `trx`.
import type { Selectable } from 'kysely';
import {
  canAdvanceHop,
  type HopStatus,
  type Migration,
  type MigrationChain,
  type MigrationHop,
} from '../domain/migration-chain.js';
import type { MigrationChainHopsTable, MigrationChainsTable } from './database.js';
import type { Db } from './executor.js';

function toChain(r: Selectable<MigrationChainsTable>): MigrationChain {
  return {
    id: r.id,
    originName: r.origin_name,
    hopIndex: r.hop_index,
    migration: r.migration as Migration,
    path: r.path as string[],
    requestedBy: r.requested_by,
    upstreamPeerId: r.upstream_peer_id,
    downstreamPeerId: r.downstream_peer_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toHop(r: Selectable<MigrationChainHopsTable>): MigrationHop {
  return {
    chainId: r.chain_id,
    hopIndex: r.hop_index,
    platformName: r.platform_name,
    status: r.status as HopStatus,
    approvalRequestId: r.approval_request_id,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    error: r.error,
    updatedAt: r.updated_at,
  };
}

export async function insertChain(
  db: Db,
  c: Omit<MigrationChain, 'createdAt' | 'updatedAt' | 'downstreamPeerId'>,
  at: Date,
): Promise<void> {
  await db
    .insertInto('migration_chains')
    .values({
      id: c.id,
      origin_name: c.originName,
      hop_index: c.hopIndex,
      migration: JSON.stringify(c.migration),
      path: JSON.stringify(c.path),
      requested_by: c.requestedBy,
      upstream_peer_id: c.upstreamPeerId,
      downstream_peer_id: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
}

export async function findChain(
  db: Db,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<MigrationChain | null> {
  let q = db.selectFrom('migration_chains').selectAll().where('id', '=', id);
  if (opts.forUpdate === true) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toChain(row);
}

export async function setDownstreamPeer(db: Db, id: string, peerId: string, at: Date): Promise<void> {
  await db
    .updateTable('migration_chains')
    .set({ downstream_peer_id: peerId, updated_at: at })
    .where('id', '=', id)
    .execute();
}

/** Newest first, before the (created_at, id) cursor when given; limit + 1 rows. */
export async function listChains(
  db: Db,
  opts: { limit: number; before?: { createdAt: Date; id: string } },
): Promise<MigrationChain[]> {
  let q = db.selectFrom('migration_chains').selectAll();
  if (opts.before !== undefined) {
    const b = opts.before;
    q = q.where((eb) =>
      eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]),
    );
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  return rows.map(toChain);
}

export async function insertHops(
  db: Db,
  hops: readonly Pick<MigrationHop, 'chainId' | 'hopIndex' | 'platformName' | 'status' | 'approvalRequestId'>[],
  at: Date,
): Promise<void> {
  if (hops.length === 0) return;
  await db
    .insertInto('migration_chain_hops')
    .values(
      hops.map((h) => ({
        chain_id: h.chainId,
        hop_index: h.hopIndex,
        platform_name: h.platformName,
        status: h.status,
        approval_request_id: h.approvalRequestId,
        decided_by: null,
        decided_at: null,
        error: null,
        updated_at: at,
      })),
    )
    .execute();
}

export async function listHops(db: Db, chainIds: readonly string[]): Promise<MigrationHop[]> {
  if (chainIds.length === 0) return [];
  const rows = await db
    .selectFrom('migration_chain_hops')
    .selectAll()
    .where('chain_id', 'in', chainIds)
    .orderBy('chain_id')
    .orderBy('hop_index')
    .execute();
  return rows.map(toHop);
}

export async function findHop(
  db: Db,
  chainId: string,
  hopIndex: number,
  opts: { forUpdate?: boolean } = {},
): Promise<MigrationHop | null> {
  let q = db
    .selectFrom('migration_chain_hops')
    .selectAll()
    .where('chain_id', '=', chainId)
    .where('hop_index', '=', hopIndex);
  if (opts.forUpdate === true) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toHop(row);
}

export interface HopUpdate {
  status: HopStatus;
  approvalRequestId?: string | null;
  decidedBy?: string | null;
  decidedAt?: Date | null;
  error?: string | null;
}

/**
 * Moves a hop forward to `u.status` when that is a legal step from where it is; answers the updated hop,
 * or null when the update was stale (already there, or past it).
 */
export async function advanceHop(
  db: Db,
  chainId: string,
  hopIndex: number,
  u: HopUpdate,
  at: Date,
): Promise<MigrationHop | null> {
  const current = await findHop(db, chainId, hopIndex, { forUpdate: true });
  if (current === null || !canAdvanceHop(current.status, u.status)) return null;
  const row = await db
    .updateTable('migration_chain_hops')
    .set({
      status: u.status,
      ...(u.approvalRequestId === undefined ? {} : { approval_request_id: u.approvalRequestId }),
      ...(u.decidedBy === undefined ? {} : { decided_by: u.decidedBy }),
      ...(u.decidedAt === undefined ? {} : { decided_at: u.decidedAt }),
      ...(u.error === undefined ? {} : { error: u.error }),
      updated_at: at,
    })
    .where('chain_id', '=', chainId)
    .where('hop_index', '=', hopIndex)
    .returningAll()
    .executeTakeFirstOrThrow();
  await db.updateTable('migration_chains').set({ updated_at: at }).where('id', '=', chainId).execute();
  return toHop(row);
}
