// Rows of the peer protocol after the handshake: the outbox of signed calls (claimed with a lease so a
// crashed sender's call is retried, never sent twice at once), the inbox of applied idempotency keys,
// heartbeat turns and contact on peer rows, and the audit chain heads peers report. Plain functions
// taking `db` or `trx` first.
import { sql, type Selectable } from 'kysely';
import type { FederationPeer } from '../domain/federation.js';
import type { OutboxEntry, OutboxStatus } from '../domain/peer-calls.js';
import type { FederationOutboxTable } from './database.js';
import type { Db } from './executor.js';
import { toPeer } from './peers-repository.js';

export type { OutboxEntry, OutboxStatus } from '../domain/peer-calls.js';

function toEntry(row: Selectable<FederationOutboxTable>): OutboxEntry {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    operation: row.operation,
    idempotencyKey: row.idempotency_key,
    onBehalfOf: row.on_behalf_of,
    args: row.args,
    status: row.status as OutboxStatus,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    responseStatus: row.response_status,
    response: row.response,
    createdBy: row.created_by,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** A pending entry to `peerId` for the same call (operation, on_behalf_of, arguments), or null. */
export async function findPendingOutboxEntry(
  db: Db,
  a: { peerId: string; operation: string; onBehalfOf: string | null; args: Record<string, unknown> },
): Promise<OutboxEntry | null> {
  const row = await db
    .selectFrom('federation_outbox')
    .selectAll()
    .where('federation_peer_id', '=', a.peerId)
    .where('status', '=', 'pending')
    .where('operation', '=', a.operation)
    .where((eb) => (a.onBehalfOf === null ? eb('on_behalf_of', 'is', null) : eb('on_behalf_of', '=', a.onBehalfOf)))
    .where(sql<boolean>`args = ${JSON.stringify(a.args)}::jsonb`)
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? null : toEntry(row);
}

export async function insertOutboxEntry(
  db: Db,
  entry: {
    peerId: string;
    operation: string;
    idempotencyKey: string;
    onBehalfOf: string | null;
    args: Record<string, unknown>;
    createdBy: string;
    at: Date;
  },
): Promise<OutboxEntry> {
  const row = await db
    .insertInto('federation_outbox')
    .values({
      federation_peer_id: entry.peerId,
      operation: entry.operation,
      idempotency_key: entry.idempotencyKey,
      on_behalf_of: entry.onBehalfOf,
      args: JSON.stringify(entry.args),
      status: 'pending',
      next_attempt_at: entry.at,
      created_by: entry.createdBy,
      created_at: entry.at,
      updated_at: entry.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEntry(row);
}

export async function findOutboxEntry(db: Db, id: string): Promise<OutboxEntry | null> {
  const row = await db.selectFrom('federation_outbox').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toEntry(row);
}

/** Outbox entries of one peer (or all), newest first, limit + 1 rows. */
export async function listOutboxEntries(
  db: Db,
  opts: { peerId?: string; status?: OutboxStatus; limit: number; before?: { createdAt: Date; id: string } },
): Promise<OutboxEntry[]> {
  let query = db.selectFrom('federation_outbox').selectAll();
  if (opts.peerId !== undefined) query = query.where('federation_peer_id', '=', opts.peerId);
  if (opts.status !== undefined) query = query.where('status', '=', opts.status);
  if (opts.before !== undefined) {
    const { createdAt, id } = opts.before;
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]),
    );
  }
  const rows = await query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit + 1)
    .execute();
  return rows.map(toEntry);
}

/**
 * Claims up to `limit` due pending entries in one statement: each gets its attempt counted and its next
 * attempt pushed `leaseMs` ahead, so another replica (or this one after a crash mid-send) takes it again
 * only once the lease ran out. SKIP LOCKED: two replicas claiming at once get disjoint entries.
 */
export async function claimDueOutboxEntries(db: Db, now: Date, limit: number, leaseMs: number): Promise<OutboxEntry[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const rows = await db
    .updateTable('federation_outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: leaseUntil, updated_at: now }))
    .where(
      'id',
      'in',
      db
        .selectFrom('federation_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .where('status', '=', 'pending')
    .returningAll()
    .execute();
  return rows.map(toEntry);
}

/** Ends a pending entry as delivered or failed; null when it was no longer pending. */
export async function finishOutboxEntry(
  db: Db,
  id: string,
  outcome: { status: 'delivered' | 'failed'; responseStatus: number | null; response: unknown; error: string | null },
  at: Date,
): Promise<OutboxEntry | null> {
  const row = await db
    .updateTable('federation_outbox')
    .set({
      status: outcome.status,
      response_status: outcome.responseStatus,
      response: outcome.response === undefined ? null : JSON.stringify(outcome.response),
      last_error: outcome.error,
      finished_at: at,
      updated_at: at,
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toEntry(row);
}

/** Leaves a pending entry pending, to be tried again at `nextAttemptAt`. */
export async function deferOutboxEntry(
  db: Db,
  id: string,
  nextAttemptAt: Date,
  error: string,
  at: Date,
): Promise<void> {
  await db
    .updateTable('federation_outbox')
    .set({ next_attempt_at: nextAttemptAt, last_error: error, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * Records that the call `key` from `peerId` is being applied here; false when it already was (or is
 * being applied by a transaction that will commit first: the insert waits for it on Postgres).
 */
export async function claimInboxKey(
  db: Db,
  peerId: string,
  key: string,
  operation: string,
  at: Date,
): Promise<boolean> {
  const row = await db
    .insertInto('federation_inbox')
    .values({ federation_peer_id: peerId, idempotency_key: key, operation, received_at: at })
    .onConflict((oc) => oc.columns(['federation_peer_id', 'idempotency_key']).doNothing())
    .returning('idempotency_key')
    .executeTakeFirst();
  return row !== undefined;
}

export async function setInboxResponse(db: Db, peerId: string, key: string, response: unknown): Promise<void> {
  await db
    .updateTable('federation_inbox')
    .set({ response: JSON.stringify(response ?? null) })
    .where('federation_peer_id', '=', peerId)
    .where('idempotency_key', '=', key)
    .execute();
}

export async function findInboxEntry(
  db: Db,
  peerId: string,
  key: string,
): Promise<{ operation: string; response: unknown } | null> {
  const row = await db
    .selectFrom('federation_inbox')
    .select(['operation', 'response'])
    .where('federation_peer_id', '=', peerId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  return row ?? null;
}

/**
 * Claims this tick's heartbeat turn for every live peering whose last turn is `intervalMs` old: one
 * statement, so of several replicas one sends each heartbeat.
 */
export async function claimHeartbeatTurns(db: Db, now: Date, intervalMs: number): Promise<FederationPeer[]> {
  const due = new Date(now.getTime() - intervalMs);
  const rows = await db
    .updateTable('federation_peers')
    .set({ last_heartbeat_sent_at: now })
    .where('status', 'in', ['active', 'lost_contact'])
    .where('remote_platform_url', 'is not', null)
    .where('public_key_id', 'is not', null)
    .where((eb) => eb.or([eb('last_heartbeat_sent_at', 'is', null), eb('last_heartbeat_sent_at', '<=', due)]))
    .returningAll()
    .execute();
  return rows.map(toPeer);
}

/** Accepted peerings this platform joined as a child, due for another activation attempt; claims the turn. */
export async function claimActivationRetries(db: Db, now: Date, intervalMs: number): Promise<FederationPeer[]> {
  const due = new Date(now.getTime() - intervalMs);
  const rows = await db
    .updateTable('federation_peers')
    .set({ last_heartbeat_sent_at: now })
    .where('status', '=', 'accepted')
    .where('spawn_role', '=', 'child')
    .where('remote_platform_url', 'is not', null)
    .where((eb) => eb.or([eb('last_heartbeat_sent_at', 'is', null), eb('last_heartbeat_sent_at', '<=', due)]))
    .returningAll()
    .execute();
  return rows.map(toPeer);
}

/** Notes that the peer was heard from at `at`; answers true when this moved it from lost_contact back to active. */
export async function recordPeerContact(
  db: Db,
  peerId: string,
  at: Date,
  rttMs?: number,
): Promise<{ recovered: FederationPeer | null }> {
  const recovered = await db
    .updateTable('federation_peers')
    .set({ status: 'active', updated_at: at })
    .where('id', '=', peerId)
    .where('status', '=', 'lost_contact')
    .returningAll()
    .executeTakeFirst();
  await db
    .updateTable('federation_peers')
    .set({
      last_heartbeat_at: sql<Date>`greatest(last_heartbeat_at, ${at})`,
      ...(rttMs === undefined ? {} : { last_rtt_ms: Math.max(0, Math.round(rttMs)) }),
    })
    .where('id', '=', peerId)
    .where('status', 'in', ['active', 'lost_contact'])
    .execute();
  return { recovered: recovered === undefined ? null : toPeer(recovered) };
}

/** Active peers not heard from since `before` become lost_contact, in one statement. */
export async function markPeersLostContact(db: Db, before: Date, at: Date): Promise<FederationPeer[]> {
  const rows = await db
    .updateTable('federation_peers')
    .set({ status: 'lost_contact', updated_at: at })
    .where('status', '=', 'active')
    .where(sql<boolean>`coalesce(last_heartbeat_at, activated_at, updated_at) < ${before}`)
    .returningAll()
    .execute();
  return rows.map(toPeer);
}

/** The peer said it recorded our chain head up to `sequence`. Never moves backwards. */
export async function setAckedSequence(db: Db, peerId: string, sequence: number): Promise<void> {
  await db
    .updateTable('federation_peers')
    .set({ acked_sequence: sql<string>`greatest(acked_sequence, ${sequence})` })
    .where('id', '=', peerId)
    .execute();
}

/** Remembers a head the peer reported for its log; a sequence already recorded keeps its first hash. */
export async function recordChainHead(db: Db, peerId: string, sequence: number, hash: string, at: Date): Promise<void> {
  await db
    .insertInto('federation_chain_heads')
    .values({ federation_peer_id: peerId, sequence: String(sequence), hash, reported_at: at })
    .onConflict((oc) => oc.columns(['federation_peer_id', 'sequence']).doNothing())
    .execute();
}

export async function findRecordedHead(db: Db, peerId: string, sequence: number): Promise<string | null> {
  const row = await db
    .selectFrom('federation_chain_heads')
    .select('hash')
    .where('federation_peer_id', '=', peerId)
    .where('sequence', '=', String(sequence))
    .executeTakeFirst();
  return row?.hash ?? null;
}

/** The newest head recorded for the peer's log: its sequence, 0 when none. */
export async function newestRecordedSequence(db: Db, peerId: string): Promise<number> {
  const row = await db
    .selectFrom('federation_chain_heads')
    .select((eb) => eb.fn.max('sequence').as('sequence'))
    .where('federation_peer_id', '=', peerId)
    .executeTakeFirst();
  return row?.sequence === null || row?.sequence === undefined ? 0 : Number(row.sequence);
}

/** Flags the peering: the peer's history up to `sequence` no longer matches what it reported. First flag wins. */
export async function markChainMismatch(db: Db, peerId: string, sequence: number, at: Date): Promise<boolean> {
  const row = await db
    .updateTable('federation_peers')
    .set({ chain_mismatch_at: at, chain_mismatch_sequence: String(sequence) })
    .where('id', '=', peerId)
    .where('chain_mismatch_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
