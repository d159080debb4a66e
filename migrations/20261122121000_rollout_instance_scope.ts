// A rolling upgrade scoped to named instances of its group (a federated deployment's share moving the
// instances it took over): `instance_ids` lists them; null means every live instance of the group, as
// before. A scoped rollout leaves the group's baseline alone when it completes. Frozen in time: never
// import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE rollouts ADD COLUMN instance_ids uuid[]`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE rollouts DROP COLUMN instance_ids`.execute(db);
}
