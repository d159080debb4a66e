// Signed peer requests refused before a signature verified, counted per (peer, reason, hour) apart from the
// write-once audit log. Bounded: a new row prunes the oldest past the cap; later refusals in a bucket only
// add to its count. Plain functions taking `db` or `trx` first.
import { sql } from 'kysely';
import type { Db } from './executor.js';

/** One (peer, reason, hour) bucket. */
export interface RefusalBucket {
  /** Row id: a later bucket has a greater one. */
  id: string;
  federationPeerId: string | null;
  reason: string;
  hour: Date;
  count: number;
  firstAt: Date;
  lastAt: Date;
  lastRequest: string;
  lastMessage: string;
}

/** One refusal to count: `peerId` null when the key named no peer (or none was parsed). */
export interface RefusalInput {
  peerId: string | null;
  reason: string;
  request: string;
  message: string;
  at: Date;
}

/**
 * Counts one refusal in its hour's bucket, in one statement; when that made a new row, deletes the oldest
 * rows past `maxRows`. Answers the bucket's count.
 */
export async function recordRefusal(db: Db, input: RefusalInput, maxRows: number): Promise<number> {
  const hour = new Date(Math.floor(input.at.getTime() / 3_600_000) * 3_600_000);
  const row = await db
    .insertInto('federation_refusals')
    .values({
      federation_peer_id: input.peerId,
      reason: input.reason,
      hour,
      count: 1,
      first_at: input.at,
      last_at: input.at,
      last_request: input.request,
      last_message: input.message,
    })
    .onConflict((oc) =>
      oc.constraint('federation_refusals_bucket').doUpdateSet({
        count: sql`federation_refusals.count + 1`,
        last_at: sql`greatest(federation_refusals.last_at, excluded.last_at)`,
        last_request: sql`excluded.last_request`,
        last_message: sql`excluded.last_message`,
      }),
    )
    .returning('count')
    .executeTakeFirstOrThrow();
  const count = Number(row.count);
  if (count === 1) {
    await db
      .deleteFrom('federation_refusals')
      .where(
        'id',
        'in',
        db.selectFrom('federation_refusals').select('id').orderBy('hour', 'desc').orderBy('id', 'desc').offset(maxRows),
      )
      .execute();
  }
  return count;
}

/**
 * Up to `limit` buckets newest first (by id), after `beforeId` when given, of one peer or all (`null`: the
 * ones that named no peer); with the row count and refusal total of the whole record.
 */
export async function listRefusals(
  db: Db,
  opts: { peerId?: string | null; limit: number; beforeId?: string },
): Promise<{ buckets: RefusalBucket[]; rows: number; total: number }> {
  let query = db.selectFrom('federation_refusals').selectAll();
  if (opts.beforeId !== undefined) query = query.where('id', '<', opts.beforeId);
  if (opts.peerId !== undefined) {
    query =
      opts.peerId === null
        ? query.where('federation_peer_id', 'is', null)
        : query.where('federation_peer_id', '=', opts.peerId);
  }
  const rows = await query.orderBy('id', 'desc').limit(opts.limit).execute();
  const totals = await db
    .selectFrom('federation_refusals')
    .select((eb) => [eb.fn.countAll<string>().as('rows'), sql<string>`coalesce(sum(count), 0)`.as('total')])
    .executeTakeFirstOrThrow();
  return {
    buckets: rows.map((r) => ({
      id: String(r.id),
      federationPeerId: r.federation_peer_id,
      reason: r.reason,
      hour: r.hour,
      count: Number(r.count),
      firstAt: r.first_at,
      lastAt: r.last_at,
      lastRequest: r.last_request,
      lastMessage: r.last_message,
    })),
    rows: Number(totals.rows),
    total: Number(totals.total),
  };
}
