// Peer identity bindings: which local operator a peer may act as when it names one of its own operators
// (peer + remote operator name → local operator). Nothing is bound by default. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Rows are never deleted: a revoked binding stays for the record beside the peer's audit log.
    CREATE TABLE peer_identity_bindings (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      remote_operator text NOT NULL CHECK (remote_operator <> ''),
      local_operator_id uuid NOT NULL REFERENCES operators (id),
      reason text,
      created_by text NOT NULL CHECK (created_by <> ''),
      created_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_by text,
      CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
    );
    -- At most one live binding per (peer, remote operator): a call resolves to exactly one local operator.
    CREATE UNIQUE INDEX peer_identity_bindings_live
      ON peer_identity_bindings (federation_peer_id, remote_operator) WHERE revoked_at IS NULL;
    CREATE INDEX peer_identity_bindings_listing ON peer_identity_bindings (created_at, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE peer_identity_bindings`.execute(db);
}
