// Federation grants (rights one platform gives a peer, issued here or mirrored as received) and ingress
// boundary rules per peer. Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- issued: this platform granted the peer rights on it (enforced here); received: the peer granted
    -- this platform rights on it (a mirror, for display). Rows are never deleted: revoked and archived
    -- grants stay for the record beside the peer's audit log.
    CREATE TABLE federation_grants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      direction text NOT NULL CHECK (direction IN ('issued', 'received')),
      scopes text[] NOT NULL CHECK (
        cardinality(scopes) >= 1 AND array_position(scopes, NULL) IS NULL
        AND scopes <@ ARRAY['read', 'write', 'admin']::text[]
      ),
      status text NOT NULL CHECK (status IN ('active', 'revoked', 'archived')),
      expires_at timestamptz NOT NULL,
      issued_by text NOT NULL CHECK (issued_by <> ''),
      reason text,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_by text,
      archived_at timestamptz,
      CHECK (expires_at > created_at),
      CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
      CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
      CHECK ((status = 'archived') = (archived_at IS NOT NULL))
    );
    CREATE INDEX federation_grants_peer ON federation_grants (federation_peer_id, direction, status);
    CREATE INDEX federation_grants_listing ON federation_grants (created_at, id);
    -- The archive sweep reads only active grants by expiry.
    CREATE INDEX federation_grants_active_expiry ON federation_grants (expires_at) WHERE status = 'active';

    -- Ingress rules per peer, evaluated by ascending priority; the first whose capability is '*' or the
    -- call's wins. Deleting a rule deletes the row: its creation and deletion stay on the peer's audit log.
    CREATE TABLE boundary_rules (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      direction text NOT NULL CHECK (direction = 'ingress'),
      action text NOT NULL CHECK (action IN ('drop', 'accept')),
      capability text NOT NULL CHECK (capability IN ('versions.read', 'inventory.read', 'rollouts.request',
        'rollouts.control', 'deployments.assign', 'migrations.relay', 'audit.read', '*')),
      priority integer NOT NULL CHECK (priority >= 0),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (federation_peer_id, direction, priority)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE boundary_rules;
    DROP TABLE federation_grants;
  `.execute(db);
}
