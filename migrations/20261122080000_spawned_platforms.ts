// Spawned child platforms (one row per child a provider started: its process, folder and status) and
// cluster members (every platform process sharing this Postgres, with a last-seen time refreshed each
// reconciler tick). Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE spawned_children (
      id uuid PRIMARY KEY,              -- the child_instance_id spawn_child_platform returns
      federation_peer_id uuid REFERENCES federation_peers (id), -- null for a cluster member (no handshake)
      name text NOT NULL,
      spawn_mode text NOT NULL CHECK (spawn_mode IN ('managed_child', 'autonomous_peer', 'cluster_member')),
      region text,
      provider text NOT NULL,          -- 'local_process'
      url text,
      port integer CHECK (port BETWEEN 1 AND 65535),
      data_dir text,
      pid integer CHECK (pid > 0),
      hostname text,                   -- where pid means something
      status text NOT NULL CHECK (status IN ('starting', 'running', 'terminated', 'failed')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      terminated_at timestamptz,
      last_error text,
      CHECK ((spawn_mode = 'cluster_member') = (federation_peer_id IS NULL)),
      CHECK ((status = 'terminated') = (terminated_at IS NOT NULL))
    );
    CREATE INDEX spawned_children_peer ON spawned_children (federation_peer_id);
    CREATE INDEX spawned_children_live ON spawned_children (created_at) WHERE status IN ('starting', 'running');

    -- One row per platform process that ran on this database; stopped_at is set by a clean stop.
    CREATE TABLE cluster_members (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      region text,
      url text,
      pid integer NOT NULL CHECK (pid > 0),
      hostname text NOT NULL,
      started_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      stopped_at timestamptz
    );
    CREATE INDEX cluster_members_live ON cluster_members (last_seen_at) WHERE stopped_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE cluster_members;
    DROP TABLE spawned_children;
  `.execute(db);
}
