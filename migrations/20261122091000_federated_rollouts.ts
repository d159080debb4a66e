// The origin side of federated rollouts: one federated rollout an operator created here, and its legs —
// one per target peer, plus one with no peer for this platform's own leg. A remote leg mirrors what its
// peer last reported (state, batches, counters, approvals) and when it was last heard from. Frozen in
// time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE federated_rollouts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      module_name text NOT NULL,
      module_id uuid REFERENCES modules (id),  -- the local module, when this platform has it
      target_version text NOT NULL,            -- the version string: ids differ from peer to peer
      group_name text NOT NULL,                -- the default group on every leg
      strategy jsonb NOT NULL,
      coordination text NOT NULL CHECK (coordination IN ('independent', 'synchronized')),
      max_consecutive_failures integer NOT NULL CHECK (max_consecutive_failures >= 1),
      health_timeout_sec integer NOT NULL CHECK (health_timeout_sec >= 1),
      include_local boolean NOT NULL,
      state text NOT NULL CHECK (state IN ('running', 'rolling_back', 'aborting', 'completed', 'failed', 'aborted',
                                           'rolled_back')),
      barrier_batch integer CHECK (barrier_batch >= 0), -- synchronized: the highest batch any leg may start
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      finished_at timestamptz,
      reason text,
      CHECK ((coordination = 'synchronized') = (barrier_batch IS NOT NULL)),
      CHECK ((state IN ('completed', 'failed', 'aborted', 'rolled_back')) = (finished_at IS NOT NULL))
    );
    CREATE INDEX federated_rollouts_listed ON federated_rollouts (created_at DESC, id DESC);
    CREATE INDEX federated_rollouts_live ON federated_rollouts (created_at)
      WHERE state IN ('running', 'rolling_back', 'aborting');

    CREATE TABLE federated_rollout_legs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      federated_rollout_id uuid NOT NULL REFERENCES federated_rollouts (id),
      federation_peer_id uuid REFERENCES federation_peers (id), -- null: this platform's own leg
      peer_name text NOT NULL,
      group_name text NOT NULL,
      state text NOT NULL CHECK (state IN ('requested', 'pending_approval', 'running', 'paused', 'circuit_open',
                                           'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted')),
      local_rollout_id uuid,                   -- the rollout on the leg's platform (not a reference: it may be remote)
      current_batch integer NOT NULL DEFAULT -1,
      batch_count integer CHECK (batch_count >= 0),
      completed_batches integer NOT NULL DEFAULT 0 CHECK (completed_batches >= 0),
      healthy_total integer NOT NULL DEFAULT 0,
      failed_total integer NOT NULL DEFAULT 0,
      pending_approval_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
      waiting_for text,
      last_contact_at timestamptz,
      lost_contact boolean NOT NULL DEFAULT false,
      last_error text,
      start_outbox_id uuid REFERENCES federation_outbox (id),
      updated_at timestamptz NOT NULL,
      CHECK ((federation_peer_id IS NULL) = (start_outbox_id IS NULL)),
      UNIQUE (federated_rollout_id, federation_peer_id)
    );
    CREATE UNIQUE INDEX federated_rollout_legs_local ON federated_rollout_legs (federated_rollout_id)
      WHERE federation_peer_id IS NULL;
    CREATE INDEX federated_rollout_legs_peer ON federated_rollout_legs (federation_peer_id);
    CREATE INDEX federated_rollout_legs_start ON federated_rollout_legs (start_outbox_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE federated_rollout_legs;
    DROP TABLE federated_rollouts;
  `.execute(db);
}
