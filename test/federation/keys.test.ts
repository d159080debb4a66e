// The platform key pair: created once in the store, reused on restart and by every replica, and the
// private key never shown by the signer. Peer public keys parse from PEM or JWK and are named by thumbprint.
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatformSigner, parsePublicKey, publicKeyId, toJwk } from '../../src/federation/keys.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import type { Store } from '../../src/store/db.js';
import { rejection, reopenableStore } from '../helpers/federation.js';
import { openTestStore, STORE_KINDS, TEST_DATABASE_URL } from '../helpers/store.js';

const clock = new ManualClock('2026-11-22T00:00:00.000Z');

async function keyRows(store: Store): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM platform_keys`.execute(store.db);
  return Number(rows[0]!.n);
}

describe.each(STORE_KINDS)('platform key on %s', (kind) => {
  let store: Store;

  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());

  it('is created on first load and the same key is loaded again', async () => {
    const first = await loadPlatformSigner(store.db, clock);
    const second = await loadPlatformSigner(store.db, clock);
    expect(second.keyId).toBe(first.keyId);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(await keyRows(store)).toBe(1);
  });

  it('stays one key when loads overlap', async () => {
    const signers = await Promise.all(Array.from({ length: 10 }, () => loadPlatformSigner(store.db, clock)));
    expect(new Set(signers.map((s) => s.keyId)).size).toBe(1);
    expect(await keyRows(store)).toBe(1);
  });

  it('signs with the private key that matches its public key', async () => {
    const signer = await loadPlatformSigner(store.db, clock);
    const data = Buffer.from('hello peer');
    expect(verify(null, data, createPublicKey(signer.publicKeyPem), signer.sign(data))).toBe(true);
    expect(signer.keyId).toBe(publicKeyId(createPublicKey(signer.publicKeyPem)));
    expect(signer.publicJwk).toEqual(toJwk(createPublicKey(signer.publicKeyPem)));
  });

  it('shows no private key when serialised', async () => {
    const signer = await loadPlatformSigner(store.db, clock);
    const shown = JSON.stringify(signer);
    expect(Object.keys(JSON.parse(shown) as object).sort()).toEqual(['keyId', 'publicJwk', 'publicKeyPem']);
    expect(shown).not.toContain('PRIVATE KEY');
  });

  it('refuses a second active key in the database', async () => {
    const err = await rejection(
      sql`INSERT INTO platform_keys (key_id, public_key, private_key, created_at)
          VALUES ('other', 'pem', 'pem', now())`.execute(store.db),
    );
    expect(err.code).toBe('23505');
  });
});

describe.each(STORE_KINDS)('platform key across restarts on %s', (kind) => {
  it('is reused after the store is closed and opened again', async () => {
    const data = await reopenableStore(kind);
    try {
      const before = await data.open();
      const first = await loadPlatformSigner(before.db, clock);
      await before.close();
      const after = await data.open();
      const again = await loadPlatformSigner(after.db, clock);
      expect(await keyRows(after)).toBe(1);
      await after.close();
      expect(again.keyId).toBe(first.keyId);
    } finally {
      await data.destroy();
    }
  });
});

describe.runIf(TEST_DATABASE_URL !== undefined)('platform key with replicas on one Postgres', () => {
  it('gives three replicas loading at once one shared key', async () => {
    const data = await reopenableStore('postgres');
    const stores: Store[] = [];
    try {
      stores.push(await data.open(), await data.open(), await data.open());
      const signers = await Promise.all(stores.map((s) => loadPlatformSigner(s.db, clock)));
      expect(new Set(signers.map((s) => s.keyId)).size).toBe(1);
      expect(await keyRows(stores[0]!)).toBe(1);
    } finally {
      for (const s of stores) await s.close();
      await data.destroy();
    }
  });
});

describe('peer public keys', () => {
  it('names a key by its RFC 7638 thumbprint (RFC 8037 appendix A.3 vector)', () => {
    const key = parsePublicKey({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
    expect(publicKeyId(key)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('reads the same key from SPKI PEM and from JWK', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const fromPem = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(publicKeyId(fromPem)).toBe(publicKeyId(parsePublicKey(toJwk(publicKey))));
  });

  it('refuses a key that is not Ed25519', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString())).toThrow(/Ed25519/);
  });

  it('refuses text that is no key at all', () => {
    expect(() => parsePublicKey('not a key')).toThrow(/neither an SPKI PEM nor a JWK/);
  });
});
