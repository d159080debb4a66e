// Rolling upgrades: intervention policies, approval requests (four-eyes enforced by the database),
// rollouts with their batches and per-instance targets, and learnings. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE intervention_policies (
      action text PRIMARY KEY,
      mode text NOT NULL CHECK (mode IN ('auto', 'require_approval', 'blocked')),
      four_eyes boolean NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL
    );
    INSERT INTO intervention_policies (action, mode, four_eyes, updated_by, updated_at)
    VALUES ('system.fleet_rolling_upgrade', 'require_approval', true, 'default', now());

    CREATE TABLE approval_requests (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL CHECK (kind IN ('rollout_plan', 'rolling_upgrade_continuation')),
      subject_type text NOT NULL,
      subject_id uuid NOT NULL,
      summary jsonb NOT NULL DEFAULT '{}'::jsonb,
      options jsonb NOT NULL DEFAULT '[]'::jsonb,
      action text NOT NULL,
      four_eyes boolean NOT NULL,
      requested_by text NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'superseded')),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      decided_by text,
      decided_at timestamptz,
      decision text CHECK (decision IN ('approve', 'reject')),
      chosen_option text,
      reason text,
      edits jsonb,
      superseded_by uuid REFERENCES approval_requests (id),
      -- Four-eyes: whoever asked can never decide, whatever path the decision takes.
      CONSTRAINT approval_four_eyes CHECK (NOT four_eyes OR decided_by IS NULL OR decided_by <> requested_by),
      CONSTRAINT approval_decided CHECK ((status IN ('approved', 'rejected')) = (decided_by IS NOT NULL))
    );
    CREATE INDEX approval_requests_status ON approval_requests (status, created_at, id);
    CREATE INDEX approval_requests_subject ON approval_requests (subject_id);

    -- Only an active approver or admin may decide: checked by the database on every decision.
    CREATE FUNCTION flotilla_check_approver() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.decided_by IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM operators o
        WHERE o.name = NEW.decided_by AND o.revoked_at IS NULL AND o.role IN ('approver', 'admin')
      ) THEN
        RAISE EXCEPTION 'operator % may not decide approval requests', NEW.decided_by USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER approval_requests_approver BEFORE INSERT OR UPDATE OF decided_by ON approval_requests
      FOR EACH ROW EXECUTE FUNCTION flotilla_check_approver();

    CREATE TABLE rollouts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      group_id uuid NOT NULL REFERENCES groups (id),
      module_id uuid NOT NULL REFERENCES modules (id),
      target_version_id uuid NOT NULL REFERENCES module_versions (id),
      strategy jsonb NOT NULL,
      max_consecutive_failures integer NOT NULL,
      health_timeout_sec integer NOT NULL,
      max_failure_pct numeric,
      min_sample integer,
      soak_sec integer NOT NULL DEFAULT 0,
      state text NOT NULL CHECK (state IN ('planned', 'pending_approval', 'running', 'paused', 'circuit_open',
                                           'rolling_back', 'rolled_back', 'aborted', 'completed', 'failed')),
      total_instances integer NOT NULL,
      batch_count integer NOT NULL,
      current_batch integer NOT NULL DEFAULT -1,
      consecutive_failures integer NOT NULL DEFAULT 0,
      failure_run_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
      healthy_total integer NOT NULL DEFAULT 0,
      failed_total integer NOT NULL DEFAULT 0,
      breaker_trips integer NOT NULL DEFAULT 0,
      next_batch_at timestamptz,
      requested_by text NOT NULL,
      approval_request_id uuid REFERENCES approval_requests (id),
      federation_rollout_ref text,
      reason text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz
    );
    -- One active rollout of a module per group, enforced by the database.
    CREATE UNIQUE INDEX rollouts_one_active ON rollouts (group_id, module_id)
      WHERE state IN ('planned', 'pending_approval', 'running', 'paused', 'circuit_open', 'rolling_back');
    CREATE INDEX rollouts_work ON rollouts (state) WHERE state IN ('running', 'paused', 'circuit_open', 'rolling_back');
    CREATE INDEX rollouts_created ON rollouts (created_at, id);

    CREATE TABLE rollout_batches (
      rollout_id uuid NOT NULL REFERENCES rollouts (id),
      batch_index integer NOT NULL,
      phase text NOT NULL CHECK (phase IN ('pending', 'running', 'completed', 'halted')),
      instance_count integer NOT NULL,
      healthy_count integer NOT NULL DEFAULT 0,
      failed_count integer NOT NULL DEFAULT 0,
      started_at timestamptz,
      completed_at timestamptz,
      PRIMARY KEY (rollout_id, batch_index)
    );

    CREATE TABLE rollout_targets (
      rollout_id uuid NOT NULL REFERENCES rollouts (id),
      instance_id uuid NOT NULL REFERENCES instances (id),
      batch_index integer NOT NULL,
      position integer NOT NULL,
      state text NOT NULL CHECK (state IN ('pending', 'upgrading', 'healthy', 'failed', 'rolling_back', 'rolled_back', 'skipped')),
      previous_version_id uuid REFERENCES module_versions (id),
      previous_override boolean NOT NULL DEFAULT false,
      started_at timestamptz,
      deadline_at timestamptz,
      finished_at timestamptz,
      outcome_reason text,
      PRIMARY KEY (rollout_id, instance_id)
    );
    CREATE INDEX rollout_targets_batch ON rollout_targets (rollout_id, batch_index, position);
    CREATE INDEX rollout_targets_in_flight ON rollout_targets (rollout_id, state)
      WHERE state IN ('upgrading', 'rolling_back');

    CREATE TABLE learnings (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      title text NOT NULL,
      category text NOT NULL,
      content text NOT NULL,
      tags text[] NOT NULL DEFAULT '{}',
      created_by text NOT NULL,
      created_at timestamptz NOT NULL
    );
    CREATE INDEX learnings_tags ON learnings USING gin (tags);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE learnings;
    DROP TABLE rollout_targets;
    DROP TABLE rollout_batches;
    DROP TABLE rollouts;
    DROP TABLE approval_requests;
    DROP FUNCTION flotilla_check_approver();
    DROP TABLE intervention_policies;
  `.execute(db);
}
