// What benchmark 6 reads from each platform's own database after the rollout, with the benchmark's
// own connection: the legs' batch and barrier events, the peer audit log (calls sent, set_barrier
// applied), the outbox, and the nonces every accepted signed request leaves. Reads only.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/store/database.js';

type Db = Kysely<Database>;

/** A leg's batch_started, batch_completed and barrier_set `at`s (ms), by batch; the first of each. */
export interface LegEvents {
  started: Map<number, number>;
  completed: Map<number, number>;
  /** When the leg's barrier was raised to each batch (module.upgrade.barrier_set). */
  raised: Map<number, number>;
}

export async function legEvents(db: Db, federatedRolloutId: string): Promise<LegEvents> {
  const rows = await sql<{ kind: string; batch: number | null; at: Date }>`
    SELECT e.kind, (e.payload ->> (CASE WHEN e.kind = 'module.upgrade.barrier_set' THEN 'barrier_batch' ELSE 'batch_index' END))::int AS batch, e.at
    FROM events e
    WHERE e.kind IN ('module.upgrade.batch_started', 'module.upgrade.batch_completed', 'module.upgrade.barrier_set')
      AND (e.payload ->> 'rollout_id')::uuid IN (SELECT id FROM rollouts WHERE federation_rollout_ref = ${federatedRolloutId})
    ORDER BY e.at`.execute(db);
  const out: LegEvents = { started: new Map(), completed: new Map(), raised: new Map() };
  for (const r of rows.rows) {
    if (r.batch === null) continue;
    const into =
      r.kind === 'module.upgrade.batch_started'
        ? out.started
        : r.kind === 'module.upgrade.barrier_set'
          ? out.raised
          : out.completed;
    if (!into.has(r.batch)) into.set(r.batch, new Date(r.at).getTime());
  }
  return out;
}

/**
 * When a target finished applying each set_barrier that moved its barrier (ms, by barrier batch): the
 * `federated_rollout.set_barrier` audit entry, the handler's last write before its transaction commits.
 */
export async function setBarriersApplied(db: Db, originPeerId: string, since: Date): Promise<Map<number, number>> {
  const rows = await sql<{ batch: number | null; at: Date }>`
    SELECT (payload ->> 'barrier_batch')::int AS batch, at FROM peer_audit_log
    WHERE federation_peer_id = ${originPeerId} AND action = 'federated_rollout.set_barrier'
      AND payload ->> 'changed' = 'true' AND at >= ${since}
    ORDER BY sequence`.execute(db);
  const out = new Map<number, number>();
  for (const r of rows.rows) if (r.batch !== null && !out.has(r.batch)) out.set(r.batch, new Date(r.at).getTime());
  return out;
}

/** set_barrier calls a target applied without a change (its barrier was already there). */
export async function unchangedSetBarriers(db: Db, originPeerId: string, since: Date): Promise<number> {
  const r = await sql<{ n: string }>`
    SELECT count(*) AS n FROM peer_audit_log
    WHERE federation_peer_id = ${originPeerId} AND action = 'federated_rollout.set_barrier'
      AND payload ->> 'changed' = 'false' AND at >= ${since}`.execute(db);
  return Number(r.rows[0]!.n);
}

/**
 * Signed calls this platform sent and audited (`peer.call.sent`, written when the answer came back), by
 * operation, with their `at`s. Status polls and heartbeats are sent unaudited and are not among them.
 */
export async function auditedCallsSent(db: Db, since: Date, peerId?: string): Promise<Map<string, number[]>> {
  const peer = peerId === undefined ? sql`` : sql`AND federation_peer_id = ${peerId}`;
  const rows = await sql<{ operation: string; at: Date }>`
    SELECT payload ->> 'operation' AS operation, at FROM peer_audit_log
    WHERE action = 'peer.call.sent' AND at >= ${since} ${peer}
    ORDER BY at`.execute(db);
  const out = new Map<string, number[]>();
  for (const r of rows.rows) {
    const list = out.get(r.operation) ?? [];
    list.push(new Date(r.at).getTime());
    out.set(r.operation, list);
  }
  return out;
}

/** Outbox deliveries (attempts) of entries queued at or after `since`, by operation. */
export async function outboxAttempts(db: Db, since: Date): Promise<Map<string, number>> {
  const rows = await sql<{ operation: string; n: string }>`
    SELECT operation, sum(attempts) AS n FROM federation_outbox WHERE created_at >= ${since} GROUP BY 1`.execute(db);
  return new Map(rows.rows.map((r) => [r.operation, Number(r.n)]));
}

/**
 * When this platform accepted each signed request from `peerId` in [since, until] (ms, ascending): the
 * nonce its signature check records, whatever the operation (heartbeats and status polls included).
 */
export async function signedCallsFrom(db: Db, peerId: string, since: Date, until: Date): Promise<number[]> {
  const rows = await sql<{ seen_at: Date }>`
    SELECT seen_at FROM federation_nonces
    WHERE peer_id = ${peerId} AND seen_at >= ${since} AND seen_at <= ${until}
    ORDER BY seen_at`.execute(db);
  return rows.rows.map((r) => new Date(r.seen_at).getTime());
}
