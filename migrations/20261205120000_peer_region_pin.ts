// A peer's region as an admin pinned it (null: the region it declared at acceptance is used), who pinned it
// and when; and the resource kinds this side's heartbeats to the peer currently leave out because the
// peer's data residency policy keeps them in region (its changes are audited once, not every tick).
// Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers
      ADD COLUMN pinned_region text CHECK (pinned_region ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      ADD COLUMN region_pinned_by text,
      ADD COLUMN region_pinned_at timestamptz,
      ADD COLUMN heartbeat_withheld_kinds text[] NOT NULL DEFAULT '{}'
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers
      DROP COLUMN pinned_region,
      DROP COLUMN region_pinned_by,
      DROP COLUMN region_pinned_at,
      DROP COLUMN heartbeat_withheld_kinds
  `.execute(db);
}
