// Instances keep half of each heap page free: every heartbeat rewrites its instance's row, and a
// batch updates agents that enrolled together, which sit on the same pages. At fillfactor 80 about
// half of those updates found no room on the page and were not HOT (a new entry in each of the
// table's indexes); at 50 all of them are HOT (bench/README.md, section 3). New pages only: rows
// already stored move as they are updated. Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE instances SET (fillfactor = 50)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE instances SET (fillfactor = 80)`.execute(db);
}
