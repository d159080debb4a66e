// What a leg's status needs beside its rollout row, for many legs in one statement each: completed
// batches and pending approval requests. Plain functions taking `db` or `trx` first.
import { sql } from 'kysely';
import type { Db } from './executor.js';

/** Completed batches per rollout; rollouts with none are absent. */
export async function completedBatchCounts(db: Db, rolloutIds: readonly string[]): Promise<Map<string, number>> {
  if (rolloutIds.length === 0) return new Map();
  const rows = await sql<{ rollout_id: string; n: string }>`
    SELECT rollout_id, count(*) AS n FROM rollout_batches
    WHERE rollout_id = ANY(${rolloutIds}::uuid[]) AND phase = 'completed'
    GROUP BY rollout_id`.execute(db);
  return new Map(rows.rows.map((r) => [r.rollout_id, Number(r.n)]));
}

/** Ids of the pending approval requests about each rollout, oldest first; rollouts with none are absent. */
export async function pendingApprovalIds(db: Db, rolloutIds: readonly string[]): Promise<Map<string, string[]>> {
  if (rolloutIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('approval_requests')
    .select(['id', 'subject_id'])
    .where('subject_type', '=', 'rollout')
    .where('subject_id', 'in', rolloutIds)
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.subject_id, [...(out.get(r.subject_id) ?? []), r.id]);
  return out;
}
