// The platform's own row: its identity, created once and read at start, and when the rollout runner
// last reached the store.
import type { Db } from './executor.js';

/** Returns the platform id, creating the single row on first use (safe under concurrent starts). */
export async function ensurePlatformRow(db: Db): Promise<{ id: string; createdAt: Date }> {
  await db
    .insertInto('platform')
    .defaultValues()
    .onConflict((oc) => oc.column('singleton').doNothing())
    .execute();
  const row = await db.selectFrom('platform').select(['id', 'created_at']).executeTakeFirstOrThrow();
  return { id: row.id, createdAt: row.created_at };
}

/**
 * Locks the platform row and returns when the rollout runner last reached the store (null: never), so
 * replicas crediting an outage take turns and credit it once.
 */
export async function lockRolloutsReconciledAt(db: Db): Promise<Date | null> {
  const row = await db.selectFrom('platform').select('rollouts_reconciled_at').forUpdate().executeTakeFirst();
  return row?.rollouts_reconciled_at ?? null;
}

/** Records that the rollout runner reached the store at `at`. */
export async function setRolloutsReconciledAt(db: Db, at: Date): Promise<void> {
  await db.updateTable('platform').set({ rollouts_reconciled_at: at }).execute();
}
