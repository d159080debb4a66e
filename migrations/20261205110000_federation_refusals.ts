// Signed peer requests refused before a signature verified (unknown key, bad signature, bad time, replay,
// misdirected): counted per peer, reason and hour, apart from the write-once audit log, which only
// authenticated peers can add to. Bounded: one row per peer, reason and hour, oldest rows pruned past a cap.
// Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE federation_refusals (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      federation_peer_id uuid REFERENCES federation_peers (id) ON DELETE CASCADE, -- null: the key named no peer
      reason text NOT NULL CHECK (char_length(reason) <= 64),
      hour timestamptz NOT NULL,         -- start of the hour the refusals fell in
      count bigint NOT NULL CHECK (count > 0),
      first_at timestamptz NOT NULL,
      last_at timestamptz NOT NULL,
      last_request text NOT NULL CHECK (char_length(last_request) <= 128),
      last_message text NOT NULL CHECK (char_length(last_message) <= 300),
      CONSTRAINT federation_refusals_bucket UNIQUE NULLS NOT DISTINCT (federation_peer_id, reason, hour)
    );
    CREATE INDEX federation_refusals_hour ON federation_refusals (hour, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE federation_refusals`.execute(db);
}
