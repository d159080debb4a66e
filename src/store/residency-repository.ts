// Data residency rows: a peer's policy (one per peer, replaced whole), its one-time overrides, and the
// policy the remote side declared for us. Plain functions taking `db` or `trx` first.
import { sql, type Selectable } from 'kysely';
import type {
  DeclaredResidency,
  ResidencyConstraint,
  ResidencyOverride,
  ResidencyPolicy,
  ResourceKind,
  StoredResidencyPolicy,
} from '../domain/residency.js';
import type { DataResidencyPoliciesTable, ResidencyOverridesTable } from './database.js';
import type { Db } from './executor.js';

function toPolicy(row: Selectable<DataResidencyPoliciesTable>): StoredResidencyPolicy {
  return {
    federationPeerId: row.federation_peer_id,
    policy: {
      resource_kinds: row.resource_kinds as ResourceKind[],
      constraint: row.constraint as ResidencyConstraint,
      region: row.region,
    },
    setBy: row.set_by,
    setAt: row.set_at,
  };
}

function toOverride(row: Selectable<ResidencyOverridesTable>): ResidencyOverride {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    resourceKinds: row.resource_kinds as ResourceKind[],
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
    consumedAt: row.consumed_at,
    consumedAction: row.consumed_action,
  };
}

export async function findResidencyPolicy(db: Db, peerId: string): Promise<StoredResidencyPolicy | null> {
  const row = await db
    .selectFrom('data_residency_policies')
    .selectAll()
    .where('federation_peer_id', '=', peerId)
    .executeTakeFirst();
  return row === undefined ? null : toPolicy(row);
}

/** Inserts or replaces the peer's policy. */
export async function upsertResidencyPolicy(
  db: Db,
  peerId: string,
  policy: ResidencyPolicy,
  setBy: string,
  at: Date,
): Promise<StoredResidencyPolicy> {
  const values = {
    resource_kinds: policy.resource_kinds,
    constraint: policy.constraint,
    region: policy.region,
    set_by: setBy,
    set_at: at,
  };
  const row = await db
    .insertInto('data_residency_policies')
    .values({ federation_peer_id: peerId, ...values })
    .onConflict((oc) => oc.column('federation_peer_id').doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toPolicy(row);
}

/** Deletes the peer's policy; returns the deleted one, or null when there was none. */
export async function deleteResidencyPolicy(db: Db, peerId: string): Promise<StoredResidencyPolicy | null> {
  const row = await db
    .deleteFrom('data_residency_policies')
    .where('federation_peer_id', '=', peerId)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toPolicy(row);
}

export async function insertResidencyOverride(
  db: Db,
  override: { federationPeerId: string; resourceKinds: ResourceKind[]; reason: string; createdBy: string; at: Date },
): Promise<ResidencyOverride> {
  const row = await db
    .insertInto('residency_overrides')
    .values({
      federation_peer_id: override.federationPeerId,
      resource_kinds: override.resourceKinds,
      reason: override.reason,
      created_by: override.createdBy,
      created_at: override.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toOverride(row);
}

/**
 * Consumes the oldest unconsumed override of the peer that covers every one of `kinds`, in one
 * conditional statement: a row another transaction is consuming is skipped, and the outer
 * `consumed_at IS NULL` makes a second consumer of the same row get nothing, so an override is used once.
 */
export async function consumeResidencyOverride(
  db: Db,
  peerId: string,
  kinds: readonly ResourceKind[],
  action: string,
  at: Date,
): Promise<ResidencyOverride | null> {
  const result = await sql<Selectable<ResidencyOverridesTable>>`
    UPDATE residency_overrides SET consumed_at = ${at}, consumed_action = ${action}
    WHERE id = (
      SELECT id FROM residency_overrides
      WHERE federation_peer_id = ${peerId} AND consumed_at IS NULL AND resource_kinds @> ${[...kinds]}::text[]
      ORDER BY created_at, id
      LIMIT 1
      FOR UPDATE SKIP LOCKED
    ) AND consumed_at IS NULL
    RETURNING *`.execute(db);
  const row = result.rows[0];
  return row === undefined ? null : toOverride(row);
}

/** Unconsumed overrides of the peer, oldest first. */
export async function listOpenResidencyOverrides(db: Db, peerId: string): Promise<ResidencyOverride[]> {
  const rows = await db
    .selectFrom('residency_overrides')
    .selectAll()
    .where('federation_peer_id', '=', peerId)
    .where('consumed_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toOverride);
}

/** Records the policy the remote side declared for this platform (null: none). */
export async function setRemoteResidency(db: Db, peerId: string, policy: DeclaredResidency | null): Promise<void> {
  await db
    .updateTable('federation_peers')
    .set({ remote_data_residency: policy === null ? null : JSON.stringify(policy) })
    .where('id', '=', peerId)
    .execute();
}

/** The policy the remote side declared for this platform, as stored. */
export async function findRemoteResidency(db: Db, peerId: string): Promise<DeclaredResidency | null> {
  const row = await db
    .selectFrom('federation_peers')
    .select('remote_data_residency')
    .where('id', '=', peerId)
    .executeTakeFirst();
  return (row?.remote_data_residency ?? null) as DeclaredResidency | null;
}

/**
 * Records the kinds heartbeats to the peer leave out now. True when that changed them: a conditional
 * statement, so of concurrent replicas only one sees the change (and audits it).
 */
export async function swapHeartbeatWithheld(db: Db, peerId: string, kinds: readonly ResourceKind[]): Promise<boolean> {
  const result = await db
    .updateTable('federation_peers')
    .set({ heartbeat_withheld_kinds: [...kinds] })
    .where('id', '=', peerId)
    .where(sql<boolean>`heartbeat_withheld_kinds IS DISTINCT FROM ${sql.val([...kinds])}::text[]`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
