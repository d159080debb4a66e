// One federated deployment per instance and module on a share's platform: two shares of the same module
// applied at once could each claim the same instance (each saw it unclaimed), and both would count it.
// The unique index lets a share claim with ON CONFLICT and lose the race cleanly. Where such a double
// claim exists already, the earliest stays. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    DELETE FROM federated_deployment_assignments a
    USING federated_deployment_assignments b
    WHERE a.instance_id = b.instance_id AND a.module_id = b.module_id
      AND (a.assigned_at, a.federated_deployment_id) > (b.assigned_at, b.federated_deployment_id);
    CREATE UNIQUE INDEX federated_deployment_assignments_instance_module
      ON federated_deployment_assignments (instance_id, module_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX federated_deployment_assignments_instance_module`.execute(db);
}
