// Planning writes one rollout_targets row per instance of a group in one statement; at 100,000
// instances the three foreign-key checks alone took 0.94 s of a 1.6 s plan. The referenced rows are
// never deleted (rollouts, instances and versions are only ever marked finished, terminated or
// archived), and targets are only inserted from a SELECT over those tables, so the checks guard
// nothing that can happen. Frozen in time: never import from src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE rollout_targets
      DROP CONSTRAINT rollout_targets_rollout_id_fkey,
      DROP CONSTRAINT rollout_targets_instance_id_fkey,
      DROP CONSTRAINT rollout_targets_previous_version_id_fkey;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE rollout_targets
      ADD CONSTRAINT rollout_targets_rollout_id_fkey FOREIGN KEY (rollout_id) REFERENCES rollouts (id),
      ADD CONSTRAINT rollout_targets_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES instances (id),
      ADD CONSTRAINT rollout_targets_previous_version_id_fkey FOREIGN KEY (previous_version_id) REFERENCES module_versions (id);
  `.execute(db);
}
