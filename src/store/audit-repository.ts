// The per-peer WORM audit log. Rows are only ever inserted: the database's chain trigger sets sequence,
// prev_hash and hash under a per-peer lock, and other triggers refuse UPDATE, DELETE and TRUNCATE.
// Plain functions taking `db` or `trx` first.
import { sql } from 'kysely';
import { GENESIS_HASH, type AuditEntry, type ChainHead, type NewAuditEntry } from '../domain/audit.js';
import type { Db } from './executor.js';

const COLUMNS = ['federation_peer_id', 'sequence', 'at', 'actor', 'action', 'payload', 'prev_hash', 'hash'] as const;

interface AuditRow {
  federation_peer_id: string;
  sequence: string;
  at: Date;
  actor: string;
  action: string;
  payload: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    federationPeerId: row.federation_peer_id,
    sequence: Number(row.sequence),
    at: row.at,
    actor: row.actor,
    action: row.action,
    payload: row.payload,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * Appends one entry and returns it chained. Inside a transaction, the peer's log stays locked for
 * other appenders until that transaction ends: keep such transactions short.
 */
export async function insertAuditEntry(db: Db, peerId: string, entry: NewAuditEntry, at: Date): Promise<AuditEntry> {
  const row = await db
    .insertInto('peer_audit_log')
    .values({
      federation_peer_id: peerId,
      at,
      actor: entry.actor,
      action: entry.action,
      payload: JSON.stringify(entry.payload),
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toEntry(row);
}

/** Entries after `afterSequence` (0 for the start), oldest first, at most `limit`. */
export async function listAuditEntries(
  db: Db,
  peerId: string,
  opts: { afterSequence: number; limit: number },
): Promise<AuditEntry[]> {
  const rows = await db
    .selectFrom('peer_audit_log')
    .select(COLUMNS)
    .where('federation_peer_id', '=', peerId)
    .where('sequence', '>', String(opts.afterSequence))
    .orderBy('sequence')
    .limit(opts.limit)
    .execute();
  return rows.map(toEntry);
}

/** The newest entry's sequence and hash; `{ 0, GENESIS_HASH }` for an empty log. */
export async function findChainHead(db: Db, peerId: string): Promise<ChainHead> {
  const row = await db
    .selectFrom('peer_audit_log')
    .select(['sequence', 'hash'])
    .where('federation_peer_id', '=', peerId)
    .orderBy('sequence', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? { sequence: 0, hash: GENESIS_HASH } : { sequence: Number(row.sequence), hash: row.hash };
}

/** The stored hash of entry `sequence`, or null when there is none. */
export async function findEntryHash(db: Db, peerId: string, sequence: number): Promise<string | null> {
  const row = await db
    .selectFrom('peer_audit_log')
    .select('hash')
    .where('federation_peer_id', '=', peerId)
    .where('sequence', '=', String(sequence))
    .executeTakeFirst();
  return row?.hash ?? null;
}

/**
 * Recomputes the peer's chain in one statement, walking forward from the genesis hash: an entry is bad
 * when its sequence is not the next one, its prev_hash is not the previous entry's hash, or its hash
 * does not match its content. Returns the first bad sequence (the missing one, for a gap) and the count.
 */
export async function findFirstBadSequence(
  db: Db,
  peerId: string,
): Promise<{ firstBadSequence: number | null; checked: number }> {
  const result = await sql<{ first_bad: string | null; checked: string }>`
    WITH chain AS (
      SELECT sequence, prev_hash, hash,
             row_number() OVER w AS expected_sequence,
             coalesce(lag(hash) OVER w, ${GENESIS_HASH}) AS expected_prev,
             flotilla_audit_hash(prev_hash, federation_peer_id, sequence, at, actor, action, payload) AS expected_hash
      FROM peer_audit_log
      WHERE federation_peer_id = ${peerId}
      WINDOW w AS (ORDER BY sequence)
    )
    SELECT count(*) AS checked,
           min(expected_sequence) FILTER (
             WHERE sequence <> expected_sequence OR prev_hash <> expected_prev OR hash <> expected_hash
           ) AS first_bad
    FROM chain`.execute(db);
  const row = result.rows[0]!;
  return { firstBadSequence: row.first_bad === null ? null : Number(row.first_bad), checked: Number(row.checked) };
}
