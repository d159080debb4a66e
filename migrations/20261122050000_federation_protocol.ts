// The peer protocol after the handshake: a persisted outbox of signed calls (retried with backoff,
// each carrying an idempotency key), an inbox of the keys already applied (so a retried call is applied
// once), the audit chain heads peers report in heartbeats, and heartbeat bookkeeping on each peering.
// Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE federation_outbox (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      operation text NOT NULL,
      idempotency_key uuid NOT NULL UNIQUE,
      on_behalf_of text,
      args jsonb NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      next_attempt_at timestamptz NOT NULL,
      last_error text,
      response_status integer,
      response jsonb,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      finished_at timestamptz,
      CHECK ((status = 'pending') = (finished_at IS NULL))
    );
    CREATE INDEX federation_outbox_due ON federation_outbox (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX federation_outbox_peer ON federation_outbox (federation_peer_id, created_at, id);

    -- Calls applied here, by the sender's idempotency key: written in the transaction that applied the
    -- call, so a retry finds the answer instead of applying it again.
    CREATE TABLE federation_inbox (
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      idempotency_key uuid NOT NULL,
      operation text NOT NULL,
      response jsonb,
      received_at timestamptz NOT NULL,
      PRIMARY KEY (federation_peer_id, idempotency_key)
    );

    -- Every chain head a peer reported for ITS log of this peering. A later heartbeat whose witness hash
    -- for a recorded sequence differs means the peer's history was rewritten.
    CREATE TABLE federation_chain_heads (
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id),
      sequence bigint NOT NULL CHECK (sequence >= 0),
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      reported_at timestamptz NOT NULL,
      PRIMARY KEY (federation_peer_id, sequence)
    );

    ALTER TABLE federation_peers
      ADD COLUMN last_heartbeat_sent_at timestamptz,
      ADD COLUMN acked_sequence bigint NOT NULL DEFAULT 0 CHECK (acked_sequence >= 0),
      ADD COLUMN chain_mismatch_at timestamptz,
      ADD COLUMN chain_mismatch_sequence bigint;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE federation_peers
      DROP COLUMN last_heartbeat_sent_at,
      DROP COLUMN acked_sequence,
      DROP COLUMN chain_mismatch_at,
      DROP COLUMN chain_mismatch_sequence;
    DROP TABLE federation_chain_heads;
    DROP TABLE federation_inbox;
    DROP TABLE federation_outbox;
  `.execute(db);
}
