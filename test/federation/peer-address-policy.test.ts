// A platform reachable at a public address does not let a token redeemer point it at loopback, private or
// link-local addresses: the accept is refused before the token is spent, and a peer URL that leads there
// anyway (a name that now resolves to loopback, a URL changed since) is refused at connect time, with
// 0 bytes reaching the listener. An admin's `allow` setting lets it through (the control).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import net from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { publicKeyPem } from '../../src/federation/keys.js';
import { CONTRACT_VERSION } from '../../src/services/platform-service.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { insertTestPeer, rejection } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const admin: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' };

/** A TCP listener on 127.0.0.1 that counts connections and bytes and never answers. */
async function countingListener(): Promise<{
  port: number;
  connections: number;
  bytes: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const stats = { connections: 0, bytes: 0 };
  const server = net.createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
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

describe.each(STORE_KINDS)('peer address policy on %s', (kind) => {
  let guarded: TestPlatform; // public URL, policy auto: refuses private peers
  let allowing: TestPlatform; // same, but an admin allowed private peers
  let listener: Awaited<ReturnType<typeof countingListener>>;

  beforeAll(async () => {
    guarded = await startTestPlatform(kind, {}, { name: 'guarded', publicUrl: 'https://flotilla.example.com' });
    allowing = await startTestPlatform(
      kind,
      {},
      { name: 'allowing', publicUrl: 'https://flotilla.example.com', peerPrivateAddresses: 'allow' },
    );
    listener = await countingListener();
  });
  afterAll(async () => {
    await guarded?.close();
    await allowing?.close();
    await listener?.close();
  });

  /** Redeems a fresh proposal of `platform` over HTTP, naming `url` as the redeemer's. */
  const redeem = async (platform: TestPlatform, name: string, url: string) => {
    const proposed = await platform.app.services.federation.propose(admin, { name, spawnMode: 'autonomous_peer' });
    const { publicKey } = generateKeyPairSync('ed25519');
    const res = await request(new URL('/federation/v1/accept', platform.app.http!.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        acceptance_token: proposed.acceptanceToken,
        platform_id: randomUUID(),
        name,
        url,
        public_key: publicKeyPem(publicKey),
        contract_version: CONTRACT_VERSION,
      }),
    });
    return {
      status: res.statusCode,
      json: (await res.body.json()) as { error?: { code: string; message: string; hint?: string } },
      peerId: proposed.peer.id,
    };
  };

  it.each([
    ['a loopback address', () => `http://127.0.0.1:${listener.port}`, '127.0.0.1'],
    ['a name resolving to loopback', () => `http://localhost:${listener.port}`, 'localhost'],
    ['a decimal loopback address', () => `http://2130706433:${listener.port}`, '127.0.0.1'],
    ['an IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${listener.port}`, '[::ffff:7f00:1]'],
    ['the cloud metadata address', () => 'http://169.254.169.254', '169.254.169.254'],
  ])('refuses a redeemer naming %s before the token is spent', async (what, url, shown) => {
    const name = `redeemer-${what.replace(/[^a-z0-9]/g, '')}`;
    const answer = await redeem(guarded, name, url());
    expect(answer.status).toBe(403);
    expect(answer.json.error).toMatchObject({
      code: 'forbidden',
      hint: expect.stringContaining('--peer-private-addresses'),
    });
    expect(answer.json.error?.message).toContain(shown);
    const peer = await guarded.app.services.federation.resolve(answer.peerId);
    expect(peer).toMatchObject({ status: 'proposed', remotePlatformUrl: null });
    expect({ connections: listener.connections, bytes: listener.bytes }).toEqual({ connections: 0, bytes: 0 });
  });

  it('answers a redeemer without a redeemable token 401 before its address is looked at (no lookup for strangers)', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const res = await request(new URL('/federation/v1/accept', guarded.app.http!.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        acceptance_token: `fpa_${'0'.repeat(43)}`,
        platform_id: randomUUID(),
        name: 'stranger',
        url: `http://localhost:${listener.port}`,
        public_key: publicKeyPem(publicKey),
        contract_version: CONTRACT_VERSION,
      }),
    });
    const json = (await res.body.json()) as { error?: { code: string; message: string } };
    expect(res.statusCode).toBe(401);
    expect(json.error).toMatchObject({ code: 'unauthorized', message: 'acceptance token is unknown' });
  });

  it.each([
    ['127.0.0.1', () => `http://127.0.0.1:${listener.port}`],
    ['localhost', () => `http://localhost:${listener.port}`],
  ])(
    'refuses at connect time a peer whose URL leads to loopback (%s): 0 bytes sent, request and outbox alike',
    async (host, url) => {
      const db = guarded.store.db;
      const id = await insertTestPeer(db, `rebound-${host.replace(/\W/g, '')}`);
      await db
        .updateTable('federation_peers')
        .set({ remote_platform_url: url(), remote_platform_id: randomUUID() })
        .where('id', '=', id)
        .execute();
      const peer = await guarded.app.services.federation.resolve(id);
      const calls = guarded.app.services.federation.calls;

      const err = await rejection(calls.request(peer, 'heartbeat', {}, { onBehalfOf: null, audited: false }));
      expect(err).toMatchObject({ code: 'forbidden' });
      expect(err.message).toContain('loopback');

      await db.transaction().execute((trx) => calls.enqueue(trx, peer, 'heartbeat', {}, { onBehalfOf: null }));
      expect(await calls.deliverDue(guarded.clock.now())).toBe(0);
      const [entry] = (await calls.listOutbox({ peer, limit: 10 })).items;
      expect(entry).toMatchObject({ status: 'pending', lastError: expect.stringContaining('loopback') });

      expect({ connections: listener.connections, bytes: listener.bytes }).toEqual({ connections: 0, bytes: 0 });
    },
  );

  it('(control) an admin who allows private peers gets the same URL through', async () => {
    const answer = await redeem(allowing, 'redeemer-allowed', `http://127.0.0.1:${listener.port}`);
    expect(answer.status).toBe(200);
    const id = await insertTestPeer(allowing.store.db, 'private-allowed');
    await allowing.store.db
      .updateTable('federation_peers')
      .set({ remote_platform_url: `http://localhost:${listener.port}`, remote_platform_id: randomUUID() })
      .where('id', '=', id)
      .execute();
    const peer = await allowing.app.services.federation.resolve(id);
    // The listener never answers: the call times out or is cut off when the listener closes.
    void allowing.app.services.federation.calls
      .request(peer, 'heartbeat', {}, { onBehalfOf: null, audited: false })
      .catch(() => undefined);
    await expect.poll(() => listener.bytes, { timeout: 10_000 }).toBeGreaterThan(0);
  });
});
