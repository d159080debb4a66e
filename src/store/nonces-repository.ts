// Nonces of accepted signed peer requests. The database is the memory: a replay is caught across
// restarts and replicas. Plain functions taking `db` or `trx` first.
import type { Db } from './executor.js';

/**
 * Records that `peerId` used `nonce`; true when it is new, false when it was seen before. One
 * statement: two replicas racing on one nonce get exactly one true.
 */
export async function recordNonce(db: Db, peerId: string, nonce: string, seenAt: Date): Promise<boolean> {
  const row = await db
    .insertInto('federation_nonces')
    .values({ peer_id: peerId, nonce, seen_at: seenAt })
    .onConflict((oc) => oc.columns(['peer_id', 'nonce']).doNothing())
    .returning('nonce')
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes every nonce seen before `cutoff` (one statement, by the seen_at index); returns how many. */
export async function deleteNoncesSeenBefore(db: Db, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('federation_nonces').where('seen_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
