// The platform's own identity row: created once, read at start.
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
