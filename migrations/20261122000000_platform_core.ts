// Platform core: platform identity, operators, the append-only event log, modules and versions.
// Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION flotilla_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END $$;

    CREATE TABLE platform (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE operators (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      role text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
      token_hash text NOT NULL UNIQUE,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz
    );

    CREATE TABLE events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL,
      at timestamptz NOT NULL,
      actor text NOT NULL,
      payload jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    CREATE INDEX events_kind_id ON events (kind, id);
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
      FOR EACH ROW EXECUTE FUNCTION flotilla_refuse_change();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
      FOR EACH STATEMENT EXECUTE FUNCTION flotilla_refuse_change();

    -- The distinct event kinds: recent_events walks (kind, id) backwards once per matching kind.
    CREATE TABLE event_kinds (kind text PRIMARY KEY);

    CREATE TABLE modules (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE module_versions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      module_id uuid NOT NULL REFERENCES modules (id),
      version text NOT NULL,
      digest text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
      lifecycle_state text NOT NULL CHECK (lifecycle_state IN ('draft', 'published', 'blessed', 'live', 'archived')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      UNIQUE (module_id, version)
    );
    CREATE INDEX module_versions_module_created ON module_versions (module_id, created_at, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE module_versions;
    DROP TABLE modules;
    DROP TABLE event_kinds;
    DROP TABLE events;
    DROP TABLE operators;
    DROP TABLE platform;
    DROP FUNCTION flotilla_refuse_change();
  `.execute(db);
}
