// The platform's signing key row. Only `loadOrCreateSigningKey` reads the private key, for the signer's
// loader in src/federation/keys.ts, which keeps it inside the signer.
import type { Db } from './executor.js';

export interface SigningKeyRow {
  keyId: string;
  publicKeyPem: string;
  /** PKCS#8 PEM. Hand it to `createPrivateKey` and drop it; never log, return or send it. */
  privateKeyPem: string;
  createdAt: Date;
}

/**
 * Returns the active key pair, inserting `generate()`'s pair first when there is none. Replicas racing
 * on one database all get the same row: the loser's insert hits the one-active-key index and does nothing.
 */
export async function loadOrCreateSigningKey(
  db: Db,
  generate: () => { keyId: string; publicKeyPem: string; privateKeyPem: string },
  at: Date,
): Promise<SigningKeyRow> {
  const existing = await selectActive(db);
  if (existing !== undefined) return existing;
  const pair = generate();
  await db
    .insertInto('platform_keys')
    .values({ key_id: pair.keyId, public_key: pair.publicKeyPem, private_key: pair.privateKeyPem, created_at: at })
    .onConflict((oc) => oc.column('active').where('active', '=', true).doNothing())
    .execute();
  const row = await selectActive(db);
  if (row === undefined) throw new Error('platform key missing right after it was inserted');
  return row;
}

async function selectActive(db: Db): Promise<SigningKeyRow | undefined> {
  const row = await db
    .selectFrom('platform_keys')
    .select(['key_id', 'public_key', 'private_key', 'created_at'])
    .where('active', '=', true)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { keyId: row.key_id, publicKeyPem: row.public_key, privateKeyPem: row.private_key, createdAt: row.created_at };
}
