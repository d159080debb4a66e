// Four-eyes over edits: everyone who requested a plan before an edit, and every editor, stays excluded
// from deciding it, enforced by the database's four-eyes CHECK. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE approval_requests
      ADD COLUMN excluded_deciders text[] NOT NULL DEFAULT '{}'
        CHECK (array_position(excluded_deciders, NULL) IS NULL);
    ALTER TABLE approval_requests DROP CONSTRAINT approval_four_eyes;
    -- Four-eyes: whoever asked, and whoever asked or edited an earlier version of this plan, never decides.
    ALTER TABLE approval_requests ADD CONSTRAINT approval_four_eyes CHECK (
      NOT four_eyes OR decided_by IS NULL
      OR (decided_by <> requested_by AND array_position(excluded_deciders, decided_by) IS NULL)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE approval_requests DROP CONSTRAINT approval_four_eyes;
    ALTER TABLE approval_requests ADD CONSTRAINT approval_four_eyes
      CHECK (NOT four_eyes OR decided_by IS NULL OR decided_by <> requested_by);
    ALTER TABLE approval_requests DROP COLUMN excluded_deciders;
  `.execute(db);
}
