// Federation foundation: the platform's Ed25519 key pair, federation peers, seen request nonces, and
// one write-once, hash-chained audit log per peer. Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The platform's signing key. Replicas share it; the private key never leaves the platform.
    CREATE TABLE platform_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      algorithm text NOT NULL DEFAULT 'ed25519' CHECK (algorithm = 'ed25519'),
      key_id text NOT NULL UNIQUE,     -- RFC 7638 JWK thumbprint of the public key
      public_key text NOT NULL,        -- SPKI PEM
      private_key text NOT NULL,       -- PKCS#8 PEM
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL,
      retired_at timestamptz,
      CHECK (active = (retired_at IS NULL))
    );
    CREATE UNIQUE INDEX platform_keys_one_active ON platform_keys (active) WHERE active;

    CREATE TABLE federation_peers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      status text NOT NULL CHECK (status IN ('proposed', 'accepted', 'active', 'lost_contact', 'revoked')),
      spawn_role text NOT NULL CHECK (spawn_role IN ('parent', 'child', 'member')),
      spawn_mode text NOT NULL CHECK (spawn_mode IN ('managed_child', 'autonomous_peer', 'cluster_member')),
      remote_platform_url text,
      remote_platform_id uuid,
      contract_version text,
      public_key text,                 -- the peer's Ed25519 key, SPKI PEM
      public_key_id text,              -- its RFC 7638 thumbprint: the keyid its signatures name
      region text,
      acceptance_token_hash text UNIQUE,
      token_expires_at timestamptz,
      last_heartbeat_at timestamptz,
      last_rtt_ms integer CHECK (last_rtt_ms >= 0),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      accepted_at timestamptz,
      activated_at timestamptz,
      revoked_at timestamptz,
      CHECK ((public_key IS NULL) = (public_key_id IS NULL))
    );
    -- A signature's keyid names at most one live peer; a revoked peering keeps its key for the record.
    CREATE UNIQUE INDEX federation_peers_live_key ON federation_peers (public_key_id) WHERE status <> 'revoked';

    -- Nonces of accepted signed requests, kept past the timestamp window so a replay is caught on any replica.
    CREATE TABLE federation_nonces (
      peer_id uuid NOT NULL REFERENCES federation_peers (id) ON DELETE CASCADE,
      nonce text NOT NULL,
      seen_at timestamptz NOT NULL,
      PRIMARY KEY (peer_id, nonce)
    );
    CREATE INDEX federation_nonces_seen_at ON federation_nonces (seen_at);

    -- The hash of one audit entry: sha256 of the previous hash followed by a canonical JSON array of the
    -- entry (format 1). jsonb text, UTC microsecond time and UTF-8 bytes read the same on PGlite and Postgres.
    CREATE FUNCTION flotilla_audit_hash(prev_hash text, peer_id uuid, seq bigint, at timestamptz, actor text,
                                        action text, payload jsonb) RETURNS text
    LANGUAGE sql STABLE STRICT AS $$
      SELECT encode(sha256(convert_to(prev_hash || jsonb_build_array(
        1, peer_id, seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor, action, payload
      )::text, 'UTF8')), 'hex')
    $$;

    CREATE TABLE peer_audit_log (
      federation_peer_id uuid NOT NULL REFERENCES federation_peers (id), -- no cascade: a peer with history stays
      sequence bigint NOT NULL CHECK (sequence >= 1),
      at timestamptz NOT NULL,
      actor text NOT NULL,
      action text NOT NULL,
      payload jsonb NOT NULL DEFAULT '{}'::jsonb,
      prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      PRIMARY KEY (federation_peer_id, sequence)
    );

    -- Every insert is chained by the database, whatever the caller wrote in sequence, prev_hash or hash.
    -- The per-peer advisory lock (held to the end of the inserting transaction) makes concurrent appends
    -- take turns; each statement of a volatile function takes a fresh snapshot, so the SELECT after the
    -- lock sees the entry the previous holder committed.
    CREATE FUNCTION flotilla_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      last_sequence bigint;
      last_hash text;
    BEGIN
      PERFORM pg_advisory_xact_lock(7410002, hashtext(NEW.federation_peer_id::text));
      SELECT l.sequence, l.hash INTO last_sequence, last_hash FROM peer_audit_log l
        WHERE l.federation_peer_id = NEW.federation_peer_id ORDER BY l.sequence DESC LIMIT 1;
      NEW.sequence := coalesce(last_sequence, 0) + 1;
      NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
      NEW.hash := flotilla_audit_hash(NEW.prev_hash, NEW.federation_peer_id, NEW.sequence, NEW.at, NEW.actor,
                                      NEW.action, NEW.payload);
      RETURN NEW;
    END $$;

    CREATE TRIGGER peer_audit_log_chain BEFORE INSERT ON peer_audit_log
      FOR EACH ROW EXECUTE FUNCTION flotilla_audit_chain();
    CREATE TRIGGER peer_audit_log_append_only BEFORE UPDATE OR DELETE ON peer_audit_log
      FOR EACH ROW EXECUTE FUNCTION flotilla_refuse_change();
    CREATE TRIGGER peer_audit_log_no_truncate BEFORE TRUNCATE ON peer_audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION flotilla_refuse_change();
    -- ALWAYS: fire even under session_replication_role = replica, which would otherwise skip them.
    ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER peer_audit_log_chain;
    ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER peer_audit_log_append_only;
    ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER peer_audit_log_no_truncate;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE peer_audit_log;
    DROP FUNCTION flotilla_audit_chain();
    DROP FUNCTION flotilla_audit_hash(text, uuid, bigint, timestamptz, text, text, jsonb);
    DROP TABLE federation_nonces;
    DROP TABLE federation_peers;
    DROP TABLE platform_keys;
  `.execute(db);
}
