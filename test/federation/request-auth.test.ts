// Inbound signed requests against a real store: a nonce is accepted once per peer, a replay is refused
// (also after a restart and when replicas race), only verified requests leave nonces, and the sweep
// forgets nonces only once no request carrying them could still pass the time check.
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyId } from '../../src/federation/keys.js';
import {
  authenticatePeerRequest,
  NONCE_RETENTION_MS,
  sweepNonces,
  type PeerKey,
} from '../../src/federation/request-auth.js';
import { MAX_SKEW_MS, newNonce, signRequest, type SignableRequest } from '../../src/federation/signing.js';
import type { Store } from '../../src/store/db.js';
import type { Db } from '../../src/store/executor.js';
import { insertTestPeer, reopenableStore } from '../helpers/federation.js';
import { openTestStore, STORE_KINDS } from '../helpers/store.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const base: SignableRequest = { method: 'POST', authority: 'a.example', target: '/federation/v1/ping', body: '{}' };

interface TestPeer {
  id: string;
  publicKey: KeyObject;
  request(opts?: { at?: Date; nonce?: string; body?: string }): SignableRequest & { headers: Record<string, string> };
}

async function addPeer(db: Db, name: string): Promise<TestPeer> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const id = await insertTestPeer(db, name, publicKey);
  const signer = { keyId: publicKeyId(publicKey), sign: (d: Uint8Array) => sign(null, d, privateKey) };
  return {
    id,
    publicKey,
    request: (opts = {}) => {
      const req = { ...base, body: opts.body ?? base.body };
      return {
        ...req,
        headers: { ...signRequest(req, signer, { now: opts.at ?? NOW, nonce: opts.nonce ?? newNonce() }) },
      };
    },
  };
}

/** Resolves keyids to the given peers, as the handshake's peer lookup will. */
function keysOf(...peers: TestPeer[]): (keyId: string) => Promise<PeerKey | null> {
  return async (keyId) => {
    const peer = peers.find((p) => publicKeyId(p.publicKey) === keyId);
    return peer === undefined ? null : { peerId: peer.id, publicKey: peer.publicKey };
  };
}

async function nonceCount(db: Db): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM federation_nonces`.execute(db);
  return Number(rows[0]!.n);
}

describe.each(STORE_KINDS)('authenticatePeerRequest on %s', (kind) => {
  let store: Store;
  let alice: TestPeer;
  let bob: TestPeer;

  beforeAll(async () => {
    store = await openTestStore(kind);
    alice = await addPeer(store.db, 'alice');
    bob = await addPeer(store.db, 'bob');
  });
  afterAll(() => store.close());

  it('accepts a signed request once and refuses its replay as replayed_nonce', async () => {
    const req = alice.request();
    const first = await authenticatePeerRequest(store.db, req, keysOf(alice), { now: NOW });
    expect(first).toMatchObject({ ok: true, peerId: alice.id });
    const again = await authenticatePeerRequest(store.db, req, keysOf(alice), { now: new Date(NOW.getTime() + 1000) });
    expect(again).toMatchObject({ ok: false, reason: 'replayed_nonce', peerId: alice.id });
  });

  it('keeps nonces per peer: another peer may use the same nonce', async () => {
    const nonce = newNonce();
    const fromAlice = await authenticatePeerRequest(store.db, alice.request({ nonce }), keysOf(alice, bob), {
      now: NOW,
    });
    const fromBob = await authenticatePeerRequest(store.db, bob.request({ nonce }), keysOf(alice, bob), { now: NOW });
    expect([fromAlice.ok, fromBob.ok]).toEqual([true, true]);
  });

  it('refuses a key no peer holds as unknown_key and records no nonce', async () => {
    const before = await nonceCount(store.db);
    const result = await authenticatePeerRequest(store.db, alice.request(), keysOf(bob), { now: NOW });
    expect(result).toMatchObject({ ok: false, reason: 'unknown_key' });
    expect(await nonceCount(store.db)).toBe(before);
  });

  it('with a recipient, accepts only a body addressed to it, and records no nonce for one that is not', async () => {
    const me = randomUUID();
    const before = await nonceCount(store.db);
    for (const body of [JSON.stringify({ to: randomUUID() }), '{}', 'not json']) {
      const result = await authenticatePeerRequest(store.db, alice.request({ body }), keysOf(alice), {
        now: NOW,
        recipient: me,
      });
      expect(result).toMatchObject({ ok: false, reason: 'misdirected', peerId: alice.id });
    }
    expect(await nonceCount(store.db)).toBe(before);
    const addressed = alice.request({ body: JSON.stringify({ to: me }) });
    expect(
      await authenticatePeerRequest(store.db, addressed, keysOf(alice), { now: NOW, recipient: me }),
    ).toMatchObject({ ok: true, peerId: alice.id });
    expect(await nonceCount(store.db)).toBe(before + 1);
  });

  it('records no nonce for a request whose signature fails', async () => {
    const before = await nonceCount(store.db);
    const forged = { ...alice.request(), target: '/federation/v1/revoke' };
    const result = await authenticatePeerRequest(store.db, forged, keysOf(alice), { now: NOW });
    expect(result).toMatchObject({ ok: false, reason: 'bad_signature', peerId: alice.id });
    expect(await nonceCount(store.db)).toBe(before);
  });

  it('lets exactly one of twenty concurrent deliveries of one request through', async () => {
    const req = alice.request();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => authenticatePeerRequest(store.db, req, keysOf(alice), { now: NOW })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replayed_nonce')).toHaveLength(19);
  });
});

describe.each(STORE_KINDS)('nonces across restarts and sweeps on %s', (kind) => {
  it('refuses a replay after the store is closed and opened again', async () => {
    const data = await reopenableStore(kind);
    try {
      const before = await data.open();
      const alice = await addPeer(before.db, 'alice');
      const req = alice.request();
      expect((await authenticatePeerRequest(before.db, req, keysOf(alice), { now: NOW })).ok).toBe(true);
      await before.close();
      const after = await data.open();
      const replay = await authenticatePeerRequest(after.db, req, keysOf(alice), { now: NOW });
      await after.close();
      expect(replay).toMatchObject({ ok: false, reason: 'replayed_nonce' });
    } finally {
      await data.destroy();
    }
  });

  it('sweeps a nonce only after the retention window, in which a replay is still refused', async () => {
    const store = await openTestStore(kind);
    try {
      const alice = await addPeer(store.db, 'alice');
      // Signed 5 minutes ahead: acceptable until 10 minutes after it was first seen.
      const req = alice.request({ at: new Date(NOW.getTime() + MAX_SKEW_MS) });
      expect((await authenticatePeerRequest(store.db, req, keysOf(alice), { now: NOW })).ok).toBe(true);
      const later = new Date(NOW.getTime() + 2 * MAX_SKEW_MS);
      expect(await sweepNonces(store.db, later)).toBe(0);
      expect(await authenticatePeerRequest(store.db, req, keysOf(alice), { now: later })).toMatchObject({
        reason: 'replayed_nonce',
      });
      expect(await sweepNonces(store.db, new Date(NOW.getTime() + NONCE_RETENTION_MS))).toBe(0);
      expect(await sweepNonces(store.db, new Date(NOW.getTime() + NONCE_RETENTION_MS + 1))).toBe(1);
      expect(await nonceCount(store.db)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
