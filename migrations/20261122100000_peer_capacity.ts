// What each peer last reported for placement in its heartbeats: online instances per group and its cost
// per instance (both optional: older peers send neither). Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers
      ADD COLUMN reported_capacity jsonb,
      ADD COLUMN reported_cost_per_instance numeric CHECK (reported_cost_per_instance >= 0),
      ADD COLUMN capacity_reported_at timestamptz
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers
      DROP COLUMN capacity_reported_at,
      DROP COLUMN reported_cost_per_instance,
      DROP COLUMN reported_capacity
  `.execute(db);
}
