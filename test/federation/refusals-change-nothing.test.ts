// The negative cases of issue #5 over real loopback HTTP between two platforms, each asserting that
// nothing changed beyond the one audit entry a refusal of an authenticated call writes, and that a refusal
// before authentication writes none (it is counted in the refusal record): a forged signature, a signature
// outside ±5 minutes, a replayed call, a misdirected call, a residency violation that puts 0 bytes on the wire to the peer (counted
// by a TCP proxy in front of it), protocol calls (heartbeat, activate, revoke) passing a default-deny
// boundary, every later call from a revoked peer, and a tampered row found by verify_audit_log.
import { generateKeyPairSync, sign } from 'node:crypto';
import net from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SKEW_MS, newNonce, type RequestSigner } from '../../src/federation/signing.js';
import type { DeclaredOperation } from '../../src/services/peer-calls.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, postToPeer, rejection, type Peering } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

/** A TCP proxy to `target` that counts the connections and bytes it receives. */
async function countingProxy(
  target: URL,
): Promise<{ url: string; connections: number; bytes: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const stats = { connections: 0, bytes: 0 };
  const server = net.createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    socket.pipe(upstream).pipe(socket);
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return stats.connections;
    },
    get bytes() {
      return stats.bytes;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each(STORE_KINDS)('federation refusals that change nothing on %s', (kind) => {
  let a: TestPlatform; // eu-west-1, proposed the peering
  let b: TestPlatform; // us-east-1, accepted it
  let peering: Peering;
  let adminA: Client;
  let adminB: Client;
  let bSigner: RequestSigner;
  let received = 0; // applications of test.receive on B
  let receive: DeclaredOperation; // as A sends it: its `secret` carries secrets, its `note` inventory

  const urlA = (): string => a.app.http!.url;
  /** Applications of test.apply on A, by key. */
  const applied = async (key: string): Promise<number> => {
    const row = await a.store.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'test.applied')
      .where(sql<boolean>`payload->>'key' = ${key}`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  /** A signed call from B to A's test.apply, as B's platform would send it (or not quite). */
  const callA = (
    key: string,
    opts: { signer?: RequestSigner; now?: Date; nonce?: string; operation?: string; to?: string } = {},
  ) =>
    postToPeer(
      urlA(),
      `/federation/v1/calls/${opts.operation ?? 'test.apply'}`,
      { to: opts.to ?? a.app.platformId, on_behalf_of: null, idempotency_key: null, args: { key } },
      {
        signer: opts.signer ?? bSigner,
        now: opts.now ?? a.clock.now(),
        ...(opts.nonce === undefined ? {} : { nonce: opts.nonce }),
      },
    );
  /** Everything an inbound call could touch on A, the audit log apart. */
  const stateOfA = async () => ({
    peers: await a.store.db.selectFrom('federation_peers').selectAll().orderBy('id').execute(),
    nonces: await a.store.db.selectFrom('federation_nonces').selectAll().orderBy('nonce').execute(),
    inbox: await a.store.db.selectFrom('federation_inbox').selectAll().execute(),
    outbox: await a.store.db.selectFrom('federation_outbox').selectAll().orderBy('id').execute(),
    grants: await a.store.db.selectFrom('federation_grants').selectAll().orderBy('id').execute(),
    rules: await a.store.db.selectFrom('boundary_rules').selectAll().orderBy('id').execute(),
    events: await a.store.db.selectFrom('events').selectAll().orderBy('id').execute(),
  });
  const auditOf = async (p: TestPlatform, peerId: string) =>
    (await p.app.services.federation.auditLog(peerId, { limit: 500 })).page.items;
  /** Runs `refused`, then asserts A is as before but for one audit entry of `action` with `payload`. */
  const expectOnlyAudited = async (
    refused: () => Promise<unknown>,
    action: string,
    payload: Record<string, unknown>,
  ): Promise<void> => {
    const before = await stateOfA();
    const auditBefore = await auditOf(a, peering.onA.id);
    await refused();
    expect(await stateOfA()).toEqual(before);
    const auditAfter = await auditOf(a, peering.onA.id);
    expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
    expect(auditAfter.slice(auditBefore.length)).toEqual([
      expect.objectContaining({ action, payload: expect.objectContaining(payload) }),
    ]);
  };

  /** How many refusals of `reason` A counted for B, outside the audit log. */
  const counted = async (reason: string): Promise<number> => {
    const { page } = await a.app.services.federation.refusals({ ref: peering.onA.id, limit: 500 });
    return page.items.filter((r) => r.reason === reason).reduce((n, r) => n + r.count, 0);
  };
  /** Runs `refused`, then asserts A is as before, its audit log included, but for one more refusal counted. */
  const expectOnlyCounted = async (refused: () => Promise<unknown>, reason: string): Promise<void> => {
    const before = await stateOfA();
    const auditBefore = await auditOf(a, peering.onA.id);
    const countBefore = await counted(reason);
    await refused();
    expect(await stateOfA()).toEqual(before);
    expect(await auditOf(a, peering.onA.id)).toEqual(auditBefore);
    expect(await counted(reason)).toBe(countBefore + 1);
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'us-east-1' });
    adminA = await a.memoryClient();
    adminB = await b.memoryClient();
    for (const [name, capability] of [
      ['test.apply', null],
      ['test.read', 'inventory.read'],
    ] as const) {
      a.app.services.federation.calls.register({
        name,
        capability,
        residencyKinds: [],
        args: z.strictObject({ key: z.string() }),
        handle: async ({ db, args, now }) => {
          await appendEvent(db, { kind: 'test.applied', actor: 'test', payload: { key: args.key } }, now);
          return { applied: args.key };
        },
      });
    }
    b.app.services.federation.calls.register({
      name: 'test.receive',
      capability: null,
      residencyKinds: [],
      args: z.strictObject({ secret: z.string().optional(), note: z.string().optional() }),
      handle: async () => {
        received += 1;
        return { stored: true };
      },
    });
    receive = a.app.services.federation.calls.declareOutbound('test.receive', {
      carries: [],
      parts: { secret: ['secrets'], note: ['inventory'] },
    });
    peering = await federatePair(a, b, { name: 'platform-b' });
    bSigner = await b.app.services.federation.protocol.signer();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('(control) applies a well-signed call from B', async () => {
    const ok = await callA('control');
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(await applied('control')).toBe(1);
  });

  it('refuses a call whose signature is forged with 401, counted, changing nothing else', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const forger: RequestSigner = { keyId: bSigner.keyId, sign: (data) => sign(null, data, privateKey) };
    await expectOnlyCounted(
      async () => expect((await callA('forged', { signer: forger })).status).toBe(401),
      'bad_signature',
    );
    expect(await applied('forged')).toBe(0);
  });

  it.each([
    ['over 5 minutes old', -(MAX_SKEW_MS + 1000), 'stale_timestamp'],
    ['over 5 minutes ahead', MAX_SKEW_MS + 1000, 'future_timestamp'],
  ])('refuses a signature created %s with 401, counted, changing nothing else', async (_what, skewMs, reason) => {
    const key = `skewed-${reason}`;
    await expectOnlyCounted(async () => {
      const res = await callA(key, { now: new Date(a.clock.now().getTime() + skewMs) });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: { code: 'unauthorized', details: { reason } } });
    }, reason);
    expect(await applied(key)).toBe(0);
  });

  it('refuses a replayed call with 401: applied once, counted, nothing else changed', async () => {
    const nonce = newNonce();
    const signedAt = a.clock.now();
    expect((await callA('replayed', { nonce, now: signedAt })).status).toBe(200);
    a.clock.advance(1000);
    await expectOnlyCounted(
      async () => expect((await callA('replayed', { nonce, now: signedAt })).status).toBe(401),
      'replayed_nonce',
    );
    expect(await applied('replayed')).toBe(1);
  });

  it('refuses a call B signed for another platform with 401 (a peer replaying what it was sent), counted, nothing applied', async () => {
    // Well signed by B, but addressed to B's own id: what B would send on if it replayed a call another
    // peer signed for it. The address is in the body, so B cannot change it without breaking the digest.
    await expectOnlyCounted(async () => {
      const res = await callA('misdirected', { to: b.app.platformId });
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.json)).toContain(`signed for platform ${b.app.platformId}, not this one`);
    }, 'misdirected');
    expect(await applied('misdirected')).toBe(0);
  });

  it('puts 0 bytes on the wire to a peer outside the residency region, audits it, and changes nothing', async () => {
    const proxy = await countingProxy(new URL(b.app.http!.url));
    const realUrl = peering.onA.remotePlatformUrl!;
    await a.store.db
      .updateTable('federation_peers')
      .set({ remote_platform_url: proxy.url })
      .where('id', '=', peering.onA.id)
      .execute();
    try {
      const set = await call(adminA, 'set_data_residency', {
        federation_peer_id: 'platform-b',
        policy: { resource_kinds: ['secrets'], constraint: 'must_not_leave_region', region: 'eu-west-1' },
      });
      expect(set.data).toMatchObject({ complies: false, peer_region: 'us-east-1' });
      const peer = await a.app.services.federation.resolve('platform-b');
      const auditOfB = await auditOf(b, peering.onB.id);

      await expectOnlyAudited(
        async () => {
          const err = await rejection(
            a.app.services.federation.calls.request(peer, receive, { secret: 's3cr3t' }, { onBehalfOf: 'admin' }),
          );
          expect(err.code).toBe('data_residency_violation');
        },
        'data_residency.violation',
        { action: 'test.receive', resource_kinds: ['secrets'] },
      );
      // Queued through the outbox: refused before the entry is written, so nothing is ever delivered. The
      // refusal is audited in the caller's transaction, which goes on (as federated deployments do).
      await expectOnlyAudited(
        async () => {
          const err = await a.store.db
            .transaction()
            .execute((trx) =>
              rejection(
                a.app.services.federation.calls.enqueue(
                  trx,
                  peer,
                  receive,
                  { secret: 's3cr3t' },
                  { onBehalfOf: 'admin' },
                ),
              ),
            );
          expect(err.code).toBe('data_residency_violation');
        },
        'data_residency.violation',
        { action: 'test.receive' },
      );
      expect(await a.app.services.federation.calls.deliverDue(a.clock.now())).toBe(0);

      expect({ connections: proxy.connections, bytes: proxy.bytes }).toEqual({ connections: 0, bytes: 0 });
      expect(received).toBe(0);
      expect(await auditOf(b, peering.onB.id)).toEqual(auditOfB);

      // (control) the same call carrying an unpinned kind goes through the proxy and is applied.
      const answer = await a.app.services.federation.calls.request(
        peer,
        receive,
        { note: 'public' },
        { onBehalfOf: 'admin' },
      );
      expect(answer).toEqual({ stored: true });
      expect(proxy.bytes).toBeGreaterThan(0);
      expect(received).toBe(1);
    } finally {
      await a.store.db
        .updateTable('federation_peers')
        .set({ remote_platform_url: realUrl })
        .where('id', '=', peering.onA.id)
        .execute();
      await call(adminA, 'set_data_residency', { federation_peer_id: 'platform-b', policy: null });
      await proxy.close();
    }
  });

  it('lets heartbeats and activate through a default-deny boundary on both sides, while it drops capabilities', async () => {
    for (const [client, peerName] of [
      [adminA, 'platform-b'],
      [adminB, 'platform-a'],
    ] as const) {
      const res = await call(client, 'create_boundary_rule', {
        federation_peer_id: peerName,
        direction: 'ingress',
        action: 'drop',
        capability: '*',
        priority: 1,
      });
      expect(res.isError, JSON.stringify(res.error)).toBe(false);
    }
    // (control) a capability call is dropped, before its handler.
    const dropped = await callA('dropped', { operation: 'test.read' });
    expect(dropped.status).toBe(403);
    expect(dropped.json).toMatchObject({ error: { details: { reason: 'boundary_drop' } } });
    expect(await applied('dropped')).toBe(0);

    // Heartbeats both ways: contact recorded and chain heads taken, whatever the rules.
    for (const p of [a, b]) p.clock.advance(15_000);
    expect(await b.app.services.federation.heartbeats.sendDue(b.clock.now())).toBe(1);
    expect(await a.app.services.federation.heartbeats.sendDue(a.clock.now())).toBe(1);
    expect((await a.app.services.federation.resolve(peering.onA.id)).lastHeartbeatAt).toEqual(a.clock.now());
    expect((await b.app.services.federation.resolve(peering.onB.id)).lastHeartbeatAt).toEqual(b.clock.now());
    const head = await b.store.db
      .selectFrom('federation_chain_heads')
      .select('sequence')
      .where('federation_peer_id', '=', peering.onB.id)
      .orderBy('sequence', 'desc')
      .executeTakeFirst();
    expect(Number(head?.sequence)).toBe((await a.app.services.audit.chainHead(peering.onA.id)).sequence);

    // Activate (idempotent once active) is answered, not dropped.
    const activate = await postToPeer(
      urlA(),
      '/federation/v1/activate',
      { to: a.app.platformId },
      { signer: bSigner, now: a.clock.now() },
    );
    expect(activate).toMatchObject({ status: 200, json: { status: 'active' } });
  });

  it('lets revoke through a default-deny boundary: B revokes and A shows the peering revoked', async () => {
    const res = await call(adminB, 'revoke_federation_peer', { federation_peer_id: 'platform-a' });
    expect(res.data).toMatchObject({
      federation_peer: { status: 'revoked' },
      remote_notified: true,
      remote_error: null,
    });
    expect(await a.app.services.federation.resolve('platform-b')).toMatchObject({ status: 'revoked' });
  });

  it('refuses every later call from the revoked peer with 401, counted, changing nothing else', async () => {
    for (const operation of ['test.apply', 'heartbeat']) {
      await expectOnlyCounted(
        async () => expect((await callA('after-revoke', { operation })).status).toBe(401),
        'unknown_key',
      );
    }
    for (const path of ['/federation/v1/activate', '/federation/v1/revoke']) {
      await expectOnlyCounted(
        async () =>
          expect(
            (await postToPeer(urlA(), path, { to: a.app.platformId }, { signer: bSigner, now: a.clock.now() })).status,
          ).toBe(401),
        'unknown_key',
      );
    }
    expect(await applied('after-revoke')).toBe(0);
  });

  it('verify_audit_log finds a tampered row by id or name; the log itself still reads', async () => {
    const proposed = await call(adminA, 'propose_federation_peer', { name: 'tampered', spawn_mode: 'autonomous_peer' });
    const id = (proposed.data.federation_peer as { id: string }).id;
    await call(adminA, 'set_data_residency', {
      federation_peer_id: 'tampered',
      policy: { resource_kinds: ['audit'], constraint: 'must_not_leave_region', region: 'eu' },
    });
    await call(adminA, 'create_boundary_rule', {
      federation_peer_id: 'tampered',
      direction: 'ingress',
      action: 'drop',
      capability: '*',
      priority: 5,
    });
    expect((await call(adminA, 'verify_audit_log', { federation_peer_id: 'tampered' })).data).toMatchObject({
      valid: true,
      first_bad_sequence: null,
      checked: 3,
    });

    // Only someone who can disable the table's triggers (its owner) gets this far.
    await a.store.db.transaction().execute(async (trx) => {
      await sql`ALTER TABLE peer_audit_log DISABLE TRIGGER peer_audit_log_append_only`.execute(trx);
      await sql`UPDATE peer_audit_log SET payload = '{"policy":null}'::jsonb
                WHERE federation_peer_id = ${id} AND sequence = 2`.execute(trx);
      await sql`ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER peer_audit_log_append_only`.execute(trx);
    });
    for (const ref of ['tampered', id]) {
      const verified = await call(adminA, 'verify_audit_log', { federation_peer_id: ref });
      expect(verified.isError, JSON.stringify(verified.error)).toBe(false);
      expect(verified.data).toMatchObject({ valid: false, first_bad_sequence: 2, checked: 3 });
    }
    const log = await call(adminA, 'get_audit_log', { federation_peer_id: 'tampered' });
    expect((log.data.entries as Array<{ sequence: number }>).map((e) => e.sequence)).toEqual([1, 2, 3]);
  });
});
