// Federated deployments on the platform that created them: "run version V of module M on N instances of
// group G, spread over these peers by a placement policy", and its shares — one per peer that takes
// replicas, plus one with no peer for this platform's own share. A share mirrors what its platform last
// reported (assigned, running healthy, drifted) and when it was last heard from. Frozen in time: never
// import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE federated_deployments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      module_name text NOT NULL,
      version text NOT NULL,                   -- the version string: ids differ from peer to peer
      replicas integer NOT NULL CHECK (replicas >= 0),
      group_name text NOT NULL,                -- the default group on every share
      include_local boolean NOT NULL,
      placement jsonb NOT NULL,                -- the placement policy the shares were computed with
      overrides jsonb NOT NULL DEFAULT '{}'::jsonb, -- per peer name: { version?, group? }
      peers jsonb NOT NULL,                    -- the member peers' names, as resolved at create/update
      failback boolean NOT NULL,               -- a recovered peer gets its planned share back
      rollout jsonb NOT NULL,                  -- how a share's platform upgrades instances on another version
      state text NOT NULL CHECK (state IN ('active', 'deleted')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz,
      CHECK ((state = 'deleted') = (deleted_at IS NOT NULL))
    );
    CREATE INDEX federated_deployments_listed ON federated_deployments (created_at DESC, id DESC);
    CREATE INDEX federated_deployments_active ON federated_deployments (created_at) WHERE state = 'active';

    CREATE TABLE federated_deployment_shares (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federated_deployment_id uuid NOT NULL REFERENCES federated_deployments (id),
      federation_peer_id uuid REFERENCES federation_peers (id), -- null: this platform's own share
      peer_name text NOT NULL,
      planned_replicas integer NOT NULL CHECK (planned_replicas >= 0), -- what the placement gave it
      desired_replicas integer NOT NULL CHECK (desired_replicas >= 0), -- what it runs now (after failover)
      version text NOT NULL,                   -- after overrides
      group_name text NOT NULL,                -- after overrides
      assigned integer CHECK (assigned >= 0),  -- null: never reported
      running_healthy integer CHECK (running_healthy >= 0),
      drifted integer CHECK (drifted >= 0),
      last_contact_at timestamptz,
      last_error text,
      state text NOT NULL CHECK (state IN ('pending', 'in_sync', 'progressing', 'drifted', 'failed', 'unreachable', 'failed_over')),
      updated_at timestamptz NOT NULL,
      UNIQUE (federated_deployment_id, federation_peer_id)
    );
    CREATE UNIQUE INDEX federated_deployment_shares_local ON federated_deployment_shares (federated_deployment_id)
      WHERE federation_peer_id IS NULL;
    CREATE INDEX federated_deployment_shares_peer ON federated_deployment_shares (federation_peer_id);

    -- On a share's platform: which instances a deployment's share assigned here (so a smaller share, a
    -- moved group or a deleted deployment releases exactly those), keyed by the creating platform's id.
    CREATE TABLE federated_deployment_assignments (
      federated_deployment_id uuid NOT NULL,
      instance_id uuid NOT NULL REFERENCES instances (id),
      origin_peer_id uuid REFERENCES federation_peers (id), -- null: a deployment created here
      module_id uuid NOT NULL,
      version_id uuid NOT NULL,
      assigned_at timestamptz NOT NULL,
      PRIMARY KEY (federated_deployment_id, instance_id)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE federated_deployment_assignments;
    DROP TABLE federated_deployment_shares;
    DROP TABLE federated_deployments;
  `.execute(db);
}
