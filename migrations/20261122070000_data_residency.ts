// Data residency (P9.4): one policy per federation peer pinning resource kinds to a region, one-time
// audited overrides, and the policy the other side declared for us. Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Resources of these kinds may be sent to the peer only while the peer is in region.
    CREATE TABLE data_residency_policies (
      federation_peer_id uuid PRIMARY KEY REFERENCES federation_peers (id),
      resource_kinds text[] NOT NULL CHECK (
        cardinality(resource_kinds) > 0
        AND resource_kinds <@ ARRAY['module_config', 'secrets', 'credentials', 'inventory', 'events', 'audit',
                                    'deployments']::text[]
      ),
      "constraint" text NOT NULL CHECK ("constraint" = 'must_not_leave_region'),
      region text NOT NULL CHECK (region ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      set_by text NOT NULL,
      set_at timestamptz NOT NULL
    );

    -- An explicit exception to a peer's policy: lets one transfer of (a subset of) resource_kinds through.
    -- Consumed by a conditional UPDATE, so concurrent transfers cannot both use it.
    CREATE TABLE residency_overrides (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      resource_kinds text[] NOT NULL CHECK (
        cardinality(resource_kinds) > 0
        AND resource_kinds <@ ARRAY['module_config', 'secrets', 'credentials', 'inventory', 'events', 'audit',
                                    'deployments']::text[]
      ),
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      consumed_at timestamptz,
      consumed_action text,
      CHECK ((consumed_at IS NULL) = (consumed_action IS NULL))
    );
    CREATE INDEX residency_overrides_unconsumed ON residency_overrides (federation_peer_id, created_at)
      WHERE consumed_at IS NULL;

    -- The policy the remote side declared for this platform at the handshake: shown, not enforced here.
    ALTER TABLE federation_peers ADD COLUMN remote_data_residency jsonb;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers DROP COLUMN remote_data_residency;
    DROP TABLE residency_overrides;
    DROP TABLE data_residency_policies;
  `.execute(db);
}
