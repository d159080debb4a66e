// When the rollout runner last reached the store (any replica): a later tick that finds a longer gap after
// losing the store credits that gap to in-flight health deadlines. Null until the first tick.
// Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE platform ADD COLUMN rollouts_reconciled_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE platform DROP COLUMN rollouts_reconciled_at`.execute(db);
}
