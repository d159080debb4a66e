// When a federated deployment's share last reached its platform and was applied there (the settle hook of
// its deployments.assign, or the local apply): the propagation step of the deployment's flow, shown per
// share. Null: not propagated yet. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE federated_deployment_shares ADD COLUMN propagated_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE federated_deployment_shares DROP COLUMN propagated_at`.execute(db);
}
