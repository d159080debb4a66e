// The out-of-band handshake between two real platforms over loopback HTTP (seed Tutorial 11, Steps 1–3
// without spawning): A proposes, B accepts and activates with a signed call, both list the peering
// active with mirrored spawn roles, and events and audit entries land on both sides. Then the refusals,
// each leaving the parent's record as it was: reused, expired and forged tokens, a contract mismatch,
// 100 concurrent redemptions of one token, a forged activate signature, a replay, and a revoked peer.
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyId, publicKeyPem } from '../../src/federation/keys.js';
import { postToPeer } from '../helpers/federation.js';
import { newNonce, type RequestSigner } from '../../src/federation/signing.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

interface FakeChild {
  keyId: string;
  signer: RequestSigner;
  body(token: string, overrides?: Record<string, unknown>): Record<string, unknown>;
}

/** A platform that exists only as a key pair: what B would send, for calling A's endpoints directly. */
function fakeChild(name = 'fake-child'): FakeChild {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyId = publicKeyId(publicKey);
  return {
    keyId,
    signer: { keyId, sign: (data) => sign(null, data, privateKey) },
    body: (token, overrides = {}) => ({
      acceptance_token: token,
      platform_id: randomUUID(),
      name,
      url: 'http://127.0.0.1:9',
      region: 'ap-south-1',
      public_key: publicKeyPem(publicKey),
      contract_version: '1.0',
      ...overrides,
    }),
  };
}

describe.each(STORE_KINDS)('out-of-band federation handshake on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let adminA: Client;
  let adminB: Client;

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'parent-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'child-b', region: 'us-east-1' });
    adminA = await a.memoryClient();
    adminB = await b.memoryClient();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const urlA = (): string => a.app.http!.url;
  const propose = async (name: string): Promise<string> => {
    const res = await call(adminA, 'propose_federation_peer', { name, spawn_mode: 'autonomous_peer' });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    return res.data.acceptance_token as string;
  };
  const acceptDirect = (body: Record<string, unknown>) => postToPeer(urlA(), '/federation/v1/accept', body);
  const signedToA = (path: string, signer: RequestSigner, nonce?: string) =>
    postToPeer(
      urlA(),
      path,
      { to: a.app.platformId },
      { signer, now: a.clock.now(), ...(nonce === undefined ? {} : { nonce }) },
    );
  const rowOnA = (name: string) =>
    a.store.db.selectFrom('federation_peers').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
  const auditOnA = async (name: string) => {
    const { page } = await a.app.services.federation.auditLog(name, { limit: 500 });
    return page.items;
  };
  /** The refusal record of peer `name` on A, as list_refused_peer_requests shows it. */
  const refusalsOnA = async (name: string) => {
    const res = await call(adminA, 'list_refused_peer_requests', { federation_peer_id: name });
    return res.data.refusals as Array<{ reason: string; count: number; last_request: string; last_message: string }>;
  };
  const peersOf = async (client: Client) =>
    (await call(client, 'list_federation_peers')).data.peers as Array<Record<string, unknown>>;

  it('follows the tutorial: A proposes, B accepts, both show the peering active from their side', async () => {
    const proposed = await call(adminA, 'propose_federation_peer', { name: 'child-b', spawn_mode: 'autonomous_peer' });
    expect(proposed.data).toMatchObject({
      federation_peer: { name: 'child-b', status: 'proposed', spawn_role: 'parent', spawn_mode: 'autonomous_peer' },
      acceptance_token: expect.stringMatching(/^fpa_[A-Za-z0-9_-]{43}$/),
    });

    const accepted = await call(adminB, 'accept_federation_peer', {
      parent_url: urlA(),
      acceptance_token: proposed.data.acceptance_token,
    });
    expect(accepted.isError, JSON.stringify(accepted.error)).toBe(false);
    expect(accepted.data.federation_peer).toMatchObject({ name: 'parent-a', status: 'active', spawn_role: 'child' });

    expect(await peersOf(adminA)).toEqual([
      expect.objectContaining({
        name: 'child-b',
        spawn_role: 'parent',
        spawn_mode: 'autonomous_peer',
        status: 'active',
        remote_platform_url: b.app.http!.url,
        contract_version: '1.0',
        region: 'us-east-1',
        last_heartbeat_at: null,
      }),
    ]);
    expect(await peersOf(adminB)).toEqual([
      expect.objectContaining({
        name: 'parent-a',
        spawn_role: 'child',
        spawn_mode: 'autonomous_peer',
        status: 'active',
        remote_platform_url: urlA(),
        contract_version: '1.0',
        region: 'eu-west-1',
      }),
    ]);
  });

  it('emits federation.peer.accepted on both sides with the tutorial payload', async () => {
    const idA = (await rowOnA('child-b')).id;
    const eventsA = (await call(adminA, 'recent_events', { kind_prefix: 'federation.peer.accepted' })).data.events;
    expect(eventsA).toEqual([
      expect.objectContaining({
        payload: expect.objectContaining({
          peer_id: idA,
          peer_kind: 'platform',
          spawn_role: 'parent',
          spawn_mode: 'autonomous_peer',
          contract_version: '1.0',
        }),
      }),
    ]);
    const eventsB = (await call(adminB, 'recent_events', { kind_prefix: 'federation.peer.accepted' })).data.events;
    expect(eventsB).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ spawn_role: 'child', peer_kind: 'platform' }) }),
    ]);
  });

  it("records the handshake in each side's audit log, chained and verifiable, by id or name", async () => {
    const logA = await call(adminA, 'get_audit_log', { federation_peer_id: 'child-b' });
    expect(
      (logA.data.entries as Array<{ sequence: number; action: string }>).map((e) => [e.sequence, e.action]),
    ).toEqual([
      [1, 'federation.proposed'],
      [2, 'federation.accepted'],
      [3, 'federation.activated'],
    ]);
    const idB = ((await peersOf(adminB))[0]!.id as string) ?? '';
    const logB = await call(adminB, 'get_audit_log', { federation_peer_id: idB });
    expect((logB.data.entries as Array<{ action: string; actor: string }>).map((e) => e.action)).toEqual([
      'federation.accepted',
      'federation.activated',
    ]);
    expect((await call(adminA, 'verify_audit_log', { federation_peer_id: 'child-b' })).data).toMatchObject({
      valid: true,
      first_bad_sequence: null,
      checked: 3,
    });
    expect((await call(adminB, 'verify_audit_log', { federation_peer_id: idB })).data).toMatchObject({ valid: true });
  });

  it('refuses a reused token and leaves the accepted peering as it was', async () => {
    const token = await propose('reuse-1');
    expect((await acceptDirect(fakeChild().body(token))).status).toBe(200);
    const before = await rowOnA('reuse-1');
    const auditBefore = await auditOnA('reuse-1');

    const again = await acceptDirect(fakeChild('intruder').body(token));
    expect(again.status).toBe(401);
    expect(again.json).toMatchObject({ error: { code: 'unauthorized', message: 'acceptance token was already used' } });
    expect(await rowOnA('reuse-1')).toEqual(before);
    expect(await auditOnA('reuse-1')).toEqual(auditBefore);
  });

  it('refuses a token after 30 minutes and leaves the peering proposed', async () => {
    const token = await propose('expire-1');
    const before = await rowOnA('expire-1');
    a.clock.advance(30 * 60_000 + 1);
    try {
      const late = await acceptDirect(fakeChild().body(token));
      expect(late.status).toBe(401);
      expect((late.json as { error: { message: string } }).error.message).toMatch(/^acceptance token expired at /);
    } finally {
      a.clock.advance(-(30 * 60_000 + 1));
    }
    expect(await rowOnA('expire-1')).toEqual(before);
    expect(before).toMatchObject({ status: 'proposed', public_key: null });
  });

  it('refuses a forged token and creates or changes no peer', async () => {
    const before = await a.store.db.selectFrom('federation_peers').selectAll().orderBy('id').execute();
    const forged = await acceptDirect(fakeChild().body(`fpa_${randomBytes(32).toString('base64url')}`));
    expect(forged.status).toBe(401);
    expect(forged.json).toMatchObject({ error: { message: 'acceptance token is unknown' } });
    expect(await a.store.db.selectFrom('federation_peers').selectAll().orderBy('id').execute()).toEqual(before);
  });

  it('refuses the token of a proposal revoked before it was accepted', async () => {
    const token = await propose('withdrawn-1');
    const revoked = await call(adminA, 'revoke_federation_peer', { federation_peer_id: 'withdrawn-1' });
    expect(revoked.data).toMatchObject({ federation_peer: { status: 'revoked' }, remote_notified: false });
    const before = await rowOnA('withdrawn-1');
    const late = await acceptDirect(fakeChild().body(token));
    expect(late.status).toBe(401);
    expect(late.json).toMatchObject({ error: { message: 'acceptance token was revoked with its proposal' } });
    expect(await rowOnA('withdrawn-1')).toEqual(before);
  });

  it('blocks a contract mismatch with an error naming both versions, leaving the peering proposed', async () => {
    const token = await propose('contract-1');
    const before = await rowOnA('contract-1');
    const mismatch = await acceptDirect(fakeChild().body(token, { contract_version: '2.0' }));
    expect(mismatch.status).toBe(409);
    const message = (mismatch.json as { error: { message: string } }).error.message;
    expect(message).toContain('2.0');
    expect(message).toContain('1.0');
    expect(await rowOnA('contract-1')).toEqual(before);
    expect(await auditOnA('contract-1')).toHaveLength(1);
    // The token is still good for a platform that speaks the contract.
    expect((await acceptDirect(fakeChild().body(token))).status).toBe(200);
  });

  it('redeems one token exactly once under 100 concurrent redemptions', async () => {
    const token = await propose('race-1');
    const children = Array.from({ length: 100 }, (_, i) => fakeChild(`racer-${i}`));
    const answers = await Promise.all(children.map((c) => acceptDirect(c.body(token))));
    const winners = answers.flatMap((ans, i) => (ans.status === 200 ? [children[i]!] : []));
    expect(winners).toHaveLength(1);
    expect(answers.filter((ans) => ans.status === 401)).toHaveLength(99);
    const row = await rowOnA('race-1');
    expect(row).toMatchObject({ status: 'accepted', public_key_id: winners[0]!.keyId });
    expect((await auditOnA('race-1')).map((e) => e.action)).toEqual(['federation.proposed', 'federation.accepted']);
  });

  it('refuses an activate whose signature is forged with 401, counts it outside the audit log, and keeps the peer accepted', async () => {
    const token = await propose('forge-1');
    const child = fakeChild();
    expect((await acceptDirect(child.body(token))).status).toBe(200);
    const impostor = fakeChild();
    const forged = await signedToA('/federation/v1/activate', { keyId: child.keyId, sign: impostor.signer.sign });
    expect(forged.status).toBe(401);
    expect(await rowOnA('forge-1')).toMatchObject({ status: 'accepted' });
    expect((await auditOnA('forge-1')).map((e) => e.action)).toEqual(['federation.proposed', 'federation.accepted']);
    expect(await refusalsOnA('forge-1')).toEqual([
      expect.objectContaining({ reason: 'bad_signature', count: 1, last_request: 'activate' }),
    ]);
    // The real key still activates.
    expect((await signedToA('/federation/v1/activate', child.signer)).status).toBe(200);
    expect(await rowOnA('forge-1')).toMatchObject({ status: 'active' });
  });

  it('refuses a replayed signed request with 401 and counts it outside the audit log', async () => {
    const token = await propose('replay-1');
    const child = fakeChild();
    expect((await acceptDirect(child.body(token))).status).toBe(200);
    const nonce = newNonce();
    expect((await signedToA('/federation/v1/activate', child.signer, nonce)).status).toBe(200);
    const replay = await signedToA('/federation/v1/activate', child.signer, nonce);
    expect(replay.status).toBe(401);
    expect((await auditOnA('replay-1')).at(-1)).toMatchObject({ action: 'federation.activated' });
    expect(await refusalsOnA('replay-1')).toEqual([expect.objectContaining({ reason: 'replayed_nonce', count: 1 })]);
  });

  it('pages list_federation_peers with limit and cursor, oldest first, without gaps', async () => {
    const all = await peersOf(adminA);
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Record<string, unknown> } = await call(adminA, 'list_federation_peers', {
        limit: 3,
        ...(cursor === null ? {} : { cursor }),
      });
      seen.push(...(page.data.peers as unknown[]));
      cursor = page.data.next_cursor as string | null;
    } while (cursor !== null);
    expect(all.length).toBeGreaterThan(3);
    expect(seen).toEqual(all);
  });

  it('refuses every later signed call from a revoked peer with 401 and counts it outside the audit log', async () => {
    const token = await propose('revoked-1');
    const child = fakeChild();
    expect((await acceptDirect(child.body(token))).status).toBe(200);
    expect((await signedToA('/federation/v1/activate', child.signer)).status).toBe(200);
    const revoked = await call(adminA, 'revoke_federation_peer', { federation_peer_id: 'revoked-1' });
    expect(revoked.data).toMatchObject({ federation_peer: { status: 'revoked' }, remote_notified: false });
    expect(revoked.data.remote_error).toEqual(expect.any(String));

    const later = await signedToA('/federation/v1/revoke', child.signer);
    expect(later.status).toBe(401);
    expect(await rowOnA('revoked-1')).toMatchObject({ status: 'revoked' });
    expect((await auditOnA('revoked-1')).at(-1)).toMatchObject({ action: 'federation.revoke.send_failed' });
    expect(await refusalsOnA('revoked-1')).toEqual([
      expect.objectContaining({
        reason: 'unknown_key',
        count: 1,
        last_request: 'revoke',
        last_message: expect.stringContaining('is revoked'),
      }),
    ]);
  });

  it('refuses a second accept from B while it already peers with A, before the token is spent', async () => {
    const token = await propose('again-1');
    const res = await call(adminB, 'accept_federation_peer', { parent_url: urlA(), acceptance_token: token });
    expect(res.error).toMatchObject({ code: 'conflict' });
    expect(res.error!.message).toContain('already peers with');
    expect(await rowOnA('again-1')).toMatchObject({ status: 'proposed', public_key: null });
  });

  it('revokes from B and tells A, which shows the peering revoked and refuses to revoke it twice', async () => {
    const res = await call(adminB, 'revoke_federation_peer', { federation_peer_id: 'parent-a' });
    expect(res.data).toMatchObject({
      federation_peer: { status: 'revoked', spawn_role: 'child' },
      remote_notified: true,
      remote_error: null,
    });
    expect(await rowOnA('child-b')).toMatchObject({ status: 'revoked' });
    expect((await auditOnA('child-b')).at(-1)).toMatchObject({
      action: 'federation.revoked',
      payload: { by: 'remote' },
    });
    const events = (await call(adminA, 'recent_events', { kind_prefix: 'federation.peer.revoked' })).data.events;
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ payload: expect.objectContaining({ name: 'child-b' }) })]),
    );
    const again = await call(adminA, 'revoke_federation_peer', { federation_peer_id: 'child-b' });
    expect(again.error).toMatchObject({ code: 'conflict' });
  });

  it("B's accept_federation_peer surfaces a refused token as a clear error and writes nothing", async () => {
    const res = await call(adminB, 'accept_federation_peer', {
      parent_url: urlA(),
      acceptance_token: `fpa_${randomBytes(32).toString('base64url')}`,
    });
    expect(res.error).toMatchObject({ code: 'unauthorized' });
    expect(res.error!.message).toContain('acceptance token is unknown');
    expect(await peersOf(adminB)).toEqual([expect.objectContaining({ name: 'parent-a', status: 'revoked' })]);
  });

  it('peers again after a revocation, naming the new row apart from the revoked one', async () => {
    const token = (await call(adminA, 'propose_federation_peer', { name: 'again-2', spawn_mode: 'managed_child' })).data
      .acceptance_token;
    const res = await call(adminB, 'accept_federation_peer', { parent_url: urlA(), acceptance_token: token });
    expect(res.data.federation_peer).toMatchObject({
      name: 'parent-a-2',
      status: 'active',
      spawn_mode: 'managed_child',
    });
    expect(await rowOnA('again-2')).toMatchObject({ status: 'active', spawn_role: 'parent' });
    expect((await peersOf(adminB)).map((p) => [p.name, p.status]).sort()).toEqual([
      ['parent-a', 'revoked'],
      ['parent-a-2', 'active'],
    ]);
  });

  it('refuses to propose a cluster_member and to let a viewer propose', async () => {
    const cluster = await call(adminA, 'propose_federation_peer', { name: 'replica', spawn_mode: 'cluster_member' });
    expect(cluster.error).toMatchObject({ code: 'invalid_input' });
    expect(cluster.error!.message).toContain('cluster_member');
    const viewer = await a.memoryClient(await a.operator('watcher', 'viewer'));
    const refused = await call(viewer, 'propose_federation_peer', { name: 'x', spawn_mode: 'autonomous_peer' });
    expect(refused.error).toMatchObject({ code: 'forbidden' });
    expect((await call(viewer, 'list_federation_peers')).isError).toBe(false);
  });
});
