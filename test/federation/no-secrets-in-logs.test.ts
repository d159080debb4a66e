// Nothing secret reaches a log: two real platforms log at trace level into memory while they go through
// everything that handles a secret — bootstrap admin tokens, an operator token, an acceptance token
// (proposed, redeemed, redeemed again and refused), signed calls and heartbeats, a forged and a replayed
// request, an enrollment token and an agent token over HTTP, a revocation. No line holds any of those
// values nor the platform's private key, while the logs do show the federation steps happened.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { postToPeer } from '../helpers/federation.js';
import { newNonce } from '../../src/federation/signing.js';
import { createLogger } from '../../src/logger.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { enroll, enrollmentTokenFor, heartbeat } from '../helpers/fleet.js';
import { bindPeerOperator } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

function memoryLog(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe.each(STORE_KINDS)('no secret in the logs of two federating platforms on %s', (kind) => {
  const logA = memoryLog();
  const logB = memoryLog();
  let a: TestPlatform;
  let b: TestPlatform;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    a = await startTestPlatform(
      kind,
      { logger: createLogger('trace', logA.stream) },
      { name: 'platform-a', region: 'eu-west-1' },
    );
    b = await startTestPlatform(
      kind,
      { logger: createLogger('trace', logB.stream) },
      { name: 'platform-b', region: 'eu-west-1' },
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('goes through every secret-handling step', async () => {
    secrets.adminA = a.adminToken;
    secrets.adminB = b.adminToken;
    const adminA = await a.httpClient();
    const adminB = await b.httpClient();
    const created = await adminA.callTool('create_operator', { name: 'olga', role: 'operator' });
    secrets.operator = (created.structured as { token: string }).token;

    const proposed = await adminA.callTool('propose_federation_peer', {
      name: 'platform-b',
      spawn_mode: 'managed_child',
    });
    secrets.acceptance = (proposed.structured as { acceptance_token: string }).acceptance_token;
    const accepted = await adminB.callTool('accept_federation_peer', {
      parent_url: a.app.http!.url,
      acceptance_token: secrets.acceptance,
    });
    expect(accepted.isError, accepted.text).toBe(false);
    const again = await adminB.callTool('accept_federation_peer', {
      parent_url: a.app.http!.url,
      acceptance_token: secrets.acceptance,
    });
    expect(again.isError).toBe(true);
    const direct = await postToPeer(a.app.http!.url, '/federation/v1/accept', {
      acceptance_token: secrets.acceptance,
    });
    expect(direct.status).toBe(400);

    await bindPeerOperator(b, 'platform-a', 'admin');
    for (const p of [a, b]) p.clock.advance(15_000);
    expect(await a.app.services.federation.heartbeats.sendDue(a.clock.now())).toBe(1);
    expect(await b.app.services.federation.heartbeats.sendDue(b.clock.now())).toBe(1);
    expect((await adminA.callTool('get_peer_inventory', { federation_peer_id: 'platform-b' })).isError).toBe(false);

    const signer = await b.app.services.federation.protocol.signer();
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = { keyId: signer.keyId, sign: (d: Uint8Array) => sign(null, d, privateKey) };
    expect(
      (
        await postToPeer(
          a.app.http!.url,
          '/federation/v1/activate',
          { to: a.app.platformId },
          { signer: forged, now: a.clock.now() },
        )
      ).status,
    ).toBe(401);
    const nonce = newNonce();
    for (const status of [200, 401]) {
      const res = await postToPeer(
        a.app.http!.url,
        '/federation/v1/activate',
        { to: a.app.platformId },
        { signer, now: a.clock.now(), nonce },
      );
      expect(res.status).toBe(status);
    }

    const memory = await b.memoryClient();
    const enrollment = await enrollmentTokenFor(memory, 'edge');
    secrets.enrollment = enrollment.token;
    const agent = await enroll(b.app.http!.url, enrollment.token, 'edge-1');
    secrets.agent = agent.agent_token;
    expect((await heartbeat(b.app.http!.url, agent.agent_token)).status).toBe(200);
    expect((await heartbeat(b.app.http!.url, `${agent.agent_token}x`)).status).toBe(401);

    const revoked = await call(memory, 'revoke_federation_peer', { federation_peer_id: 'platform-a' });
    expect(revoked.data).toMatchObject({ remote_notified: true });

    for (const p of [a, b]) {
      const key = await p.store.db.selectFrom('platform_keys').select('private_key').executeTakeFirstOrThrow();
      // The key's base64 body, without the PEM armour.
      secrets[`privateKey${p === a ? 'A' : 'B'}`] = key.private_key
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('-----'))
        .join('');
    }
  });

  it('logged the steps, and none of the secrets', () => {
    const all = [...logA.lines, ...logB.lines];
    expect(all.some((l) => l.includes('federation peer accepted'))).toBe(true);
    expect(all.some((l) => l.includes('signed peer request refused'))).toBe(true);
    expect(Object.keys(secrets)).toHaveLength(8);
    for (const [what, value] of Object.entries(secrets)) {
      expect(value.length, what).toBeGreaterThan(20);
      const leaked = all.filter((l) => l.includes(value));
      expect(leaked, what).toEqual([]);
    }
    expect(all.filter((l) => /PRIVATE KEY|fpa_[A-Za-z0-9_-]{20}|flo_[A-Za-z0-9_-]{20}/.test(l))).toEqual([]);
  });
});
