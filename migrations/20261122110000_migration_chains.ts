// Multi-hop migration chains: a migration started at an origin platform, applied there and relayed down a
// path of peers, each hop gated by its own operator's approval. Every platform stores what it knows: the
// origin every hop, a later hop its own and the hops downstream of it (from their reports). Approval
// requests gain the migration_hop kind. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE migration_chains (
      id uuid PRIMARY KEY,                      -- the chain id, the same on every platform of the chain
      origin_name text NOT NULL,                -- the origin platform's own name
      hop_index integer NOT NULL CHECK (hop_index >= 0), -- this platform's hop: 0 at the origin
      migration jsonb NOT NULL,
      path jsonb NOT NULL,                      -- peer names in hop order, as the origin gave them
      requested_by text NOT NULL,               -- the operator the chain acts for, by name
      upstream_peer_id uuid REFERENCES federation_peers (id),   -- null at the origin
      downstream_peer_id uuid REFERENCES federation_peers (id), -- set once relayed
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CONSTRAINT migration_chain_origin CHECK ((hop_index = 0) = (upstream_peer_id IS NULL))
    );
    CREATE INDEX migration_chains_created ON migration_chains (created_at, id);

    CREATE TABLE migration_chain_hops (
      chain_id uuid NOT NULL REFERENCES migration_chains (id),
      hop_index integer NOT NULL CHECK (hop_index >= 0),
      platform_name text NOT NULL,              -- as the previous hop named it (the origin: its own name)
      status text NOT NULL CHECK (status IN ('pending', 'awaiting_approval', 'applied', 'relayed', 'rejected',
        'failed')),
      approval_request_id uuid,                 -- the gate on that hop's platform (an id there, not here)
      decided_by text,
      decided_at timestamptz,
      error text,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (chain_id, hop_index)
    );

    ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_kind_check;
    ALTER TABLE approval_requests ADD CONSTRAINT approval_requests_kind_check
      CHECK (kind IN ('rollout_plan', 'rolling_upgrade_continuation', 'migration_hop'));
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_kind_check;
    ALTER TABLE approval_requests ADD CONSTRAINT approval_requests_kind_check
      CHECK (kind IN ('rollout_plan', 'rolling_upgrade_continuation'));
    DROP TABLE migration_chain_hops;
    DROP TABLE migration_chains;
  `.execute(db);
}
