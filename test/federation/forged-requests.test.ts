// Forged signed requests over real HTTP write nothing to the write-once audit log: a known (public) key
// id with a random signature, or a key no peer has, is refused 401 and counted in the bounded refusal
// record that list_refused_peer_requests shows; the audit chain still verifies.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyId } from '../../src/federation/keys.js';
import type { RequestSigner } from '../../src/federation/signing.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, postToPeer, type Peering } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const FORGED = 50;

interface RefusalView {
  federation_peer_id: string | null;
  reason: string;
  count: number;
  last_request: string;
}

describe.each(STORE_KINDS)('forged peer requests on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let peering: Peering;
  let admin: Client;
  let bKeyId: string;

  const auditCount = async (): Promise<number> => {
    const log = await call(admin, 'get_audit_log', { federation_peer_id: 'platform-b', limit: 500 });
    return (log.data.entries as unknown[]).length;
  };
  const refusals = async (args: Record<string, unknown> = {}) => {
    const res = await call(admin, 'list_refused_peer_requests', args);
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    return res.data as { refusals: RefusalView[]; total_refused: number; rows: number; max_rows: number };
  };
  /** Sends `count` signed calls to A's heartbeat, each signed by `signer` (its key id as it claims). */
  const send = async (count: number, signer: () => RequestSigner) => {
    const statuses: number[] = [];
    for (let i = 0; i < count; i += 10) {
      const batch = Array.from({ length: Math.min(10, count - i) }, () =>
        postToPeer(
          a.app.http!.url,
          '/federation/v1/calls/heartbeat',
          { to: a.app.platformId, on_behalf_of: null, idempotency_key: null, args: {} },
          { signer: signer(), now: a.clock.now() },
        ),
      );
      statuses.push(...(await Promise.all(batch)).map((answer) => answer.status));
    }
    return statuses;
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b' });
    peering = await federatePair(a, b, { name: 'platform-b' });
    admin = await a.memoryClient();
    bKeyId = (await b.app.services.federation.protocol.signer()).keyId;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it(`refuses ${FORGED} requests naming a peer's key with random signatures: 0 audit rows, all counted`, async () => {
    const before = await auditCount();
    const forger = (): RequestSigner => ({ keyId: bKeyId, sign: () => randomBytes(64) });
    expect(await send(FORGED, forger)).toEqual(new Array(FORGED).fill(401));

    expect(await auditCount()).toBe(before);
    const record = await refusals({ federation_peer_id: 'platform-b' });
    expect(record.refusals).toEqual([
      expect.objectContaining({
        federation_peer_id: peering.onA.id,
        reason: 'bad_signature',
        count: FORGED,
        last_request: 'heartbeat',
      }),
    ]);
    const verified = await call(admin, 'verify_audit_log', { federation_peer_id: 'platform-b' });
    expect(verified.data).toMatchObject({ valid: true, first_bad_sequence: null, checked: before });
  });

  it('counts requests signed with keys no peer has under no peer, in one bounded row', async () => {
    const stranger = (): RequestSigner => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      return { keyId: publicKeyId(publicKey), sign: (data) => sign(null, data, privateKey) };
    };
    const rowsBefore = (await refusals()).rows;
    expect(await send(20, stranger)).toEqual(new Array(20).fill(401));

    const record = await refusals();
    expect(record.refusals.filter((r) => r.federation_peer_id === null)).toEqual([
      expect.objectContaining({ reason: 'unknown_key', count: 20 }),
    ]);
    expect(record.rows).toBe(rowsBefore + 1);
    expect(record.total_refused).toBe(FORGED + 20);
    expect(record.rows).toBeLessThanOrEqual(record.max_rows);
  });

  it('(control) a well-signed call refused after authentication is audited; later hours get their own row', async () => {
    const bSigner = await b.app.services.federation.protocol.signer();
    const before = await auditCount();
    expect(await send(1, () => bSigner)).toEqual([400]); // authenticated, but a heartbeat needs arguments
    expect(await auditCount()).toBe(before + 1);
    const log = await call(admin, 'get_audit_log', { federation_peer_id: 'platform-b', limit: 500 });
    expect((log.data.entries as unknown[]).at(-1)).toMatchObject({ action: 'peer.call.refused' });
    a.clock.advance(60 * 60_000);
    const forger = (): RequestSigner => ({ keyId: bKeyId, sign: () => randomBytes(64) });
    expect(await send(3, forger)).toEqual([401, 401, 401]);
    const { refusals: rows } = await refusals({ federation_peer_id: peering.onA.id });
    expect(rows.map((r) => [r.reason, r.count])).toEqual([
      ['bad_signature', 3],
      ['bad_signature', FORGED],
    ]);
  });
});
