// Fleet: groups (the seeds' templates), enrollment tokens, instances with their agents, and desired
// module versions (a group baseline, overridden per instance). Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE groups (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE enrollment_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      group_id uuid NOT NULL REFERENCES groups (id),
      token_hash text NOT NULL UNIQUE,
      region text,
      labels jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz
    );

    CREATE TABLE instances (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      group_id uuid NOT NULL REFERENCES groups (id),
      region text,
      labels jsonb NOT NULL DEFAULT '{}'::jsonb,
      status text NOT NULL CHECK (status IN ('running', 'stale', 'terminated')),
      health text NOT NULL DEFAULT 'unknown' CHECK (health IN ('ok', 'degraded', 'failed', 'unknown')),
      agent_status text,
      agent_token_hash text UNIQUE,
      enrollment_token_id uuid REFERENCES enrollment_tokens (id),
      running_module_digests jsonb NOT NULL DEFAULT '{}'::jsonb,
      enrolled_at timestamptz NOT NULL,
      last_heartbeat_at timestamptz,
      terminated_at timestamptz,
      terminated_by text
    ) WITH (fillfactor = 80); -- room for HOT updates: heartbeats change no indexed column
    -- One live instance per name in a group; a terminated name may enroll again as a new instance.
    CREATE UNIQUE INDEX instances_group_name_live ON instances (group_id, name) WHERE status <> 'terminated';
    CREATE INDEX instances_group_id ON instances (group_id, id);
    CREATE INDEX instances_status_id ON instances (status, id);

    CREATE TABLE group_module_versions (
      group_id uuid NOT NULL REFERENCES groups (id),
      module_id uuid NOT NULL REFERENCES modules (id),
      version_id uuid NOT NULL REFERENCES module_versions (id),
      assigned_by text NOT NULL,
      assigned_at timestamptz NOT NULL,
      PRIMARY KEY (group_id, module_id)
    );

    CREATE TABLE instance_desired_versions (
      instance_id uuid NOT NULL REFERENCES instances (id),
      module_id uuid NOT NULL REFERENCES modules (id),
      version_id uuid NOT NULL REFERENCES module_versions (id),
      assigned_by text NOT NULL,
      assigned_at timestamptz NOT NULL,
      PRIMARY KEY (instance_id, module_id)
    );
    CREATE INDEX instance_desired_versions_version ON instance_desired_versions (version_id);

    -- What each instance should run: its own override, else its group's baseline, per module.
    CREATE VIEW instance_effective_versions AS
      SELECT i.id AS instance_id, e.module_id, m.name AS module_name, mv.id AS version_id, mv.version, mv.digest
      FROM instances i
      CROSS JOIN LATERAL (
        SELECT d.module_id, d.version_id FROM instance_desired_versions d WHERE d.instance_id = i.id
        UNION ALL
        SELECT g.module_id, g.version_id FROM group_module_versions g
        WHERE g.group_id = i.group_id
          AND NOT EXISTS (
            SELECT 1 FROM instance_desired_versions d2 WHERE d2.instance_id = i.id AND d2.module_id = g.module_id
          )
      ) e
      JOIN module_versions mv ON mv.id = e.version_id
      JOIN modules m ON m.id = e.module_id;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP VIEW instance_effective_versions;
    DROP TABLE instance_desired_versions;
    DROP TABLE group_module_versions;
    DROP TABLE instances;
    DROP TABLE enrollment_tokens;
    DROP TABLE groups;
  `.execute(db);
}
