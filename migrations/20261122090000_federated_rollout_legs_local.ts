// The target side of federated rollouts: a local rollout a peer started (its leg of a federated rollout)
// records that peer, and in synchronized mode the highest batch index it may start (the barrier the
// originating platform raises). One leg per federated rollout and origin. Frozen in time: never import src/.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE rollouts
      ADD COLUMN barrier_batch integer CHECK (barrier_batch >= 0),
      ADD COLUMN federation_origin_peer_id uuid REFERENCES federation_peers (id),
      ADD CONSTRAINT rollouts_origin_has_ref
        CHECK (federation_origin_peer_id IS NULL OR federation_rollout_ref IS NOT NULL);
    CREATE UNIQUE INDEX rollouts_federated_leg ON rollouts (federation_rollout_ref, federation_origin_peer_id)
      WHERE federation_origin_peer_id IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX rollouts_federated_leg;
    ALTER TABLE rollouts
      DROP CONSTRAINT rollouts_origin_has_ref,
      DROP COLUMN federation_origin_peer_id,
      DROP COLUMN barrier_batch;
  `.execute(db);
}
