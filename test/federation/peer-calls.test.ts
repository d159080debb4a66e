// Signed peer calls between two real platforms over loopback HTTP, on injected clocks: an operation
// answered and audited on both sides, refusals (unknown operation, bad arguments, revoked peering), the
// outbox applying a call once however often it is delivered, retries with backoff while the peer is
// unreachable, and heartbeats: contact and round trip, lost_contact after three missed intervals and
// recovery, and audit history rewritten on one side detected by the other.
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationPeer } from '../../src/domain/federation.js';
import { OUTBOX_LEASE_MS } from '../../src/domain/peer-calls.js';
import type { DeclaredOperation } from '../../src/services/peer-calls.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, type Peering } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const HEARTBEAT_MS = 15_000;

describe.each(STORE_KINDS)('signed peer calls on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let peering: Peering;
  // The test operations A sends, declared (with the data kinds they carry: none) as every outbound one is.
  let apply: DeclaredOperation;
  let nothingHere: DeclaredOperation;

  const advanceBoth = (ms: number): void => {
    a.clock.advance(ms);
    b.clock.advance(ms);
  };
  const peerOnA = (): Promise<FederationPeer> => a.app.services.federation.resolve(peering.onA.id);
  const peerOnB = (): Promise<FederationPeer> => b.app.services.federation.resolve(peering.onB.id);
  const applied = async (p: TestPlatform, key: string): Promise<number> => {
    const row = await p.store.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'test.applied')
      .where(sql<boolean>`payload->>'key' = ${key}`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const auditActions = async (p: TestPlatform, peerId: string): Promise<string[]> => {
    const { page } = await p.app.services.federation.auditLog(peerId, { limit: 500 });
    return page.items.map((e) => e.action);
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west-1' });
    apply = a.app.services.federation.calls.declareOutbound('test.apply', { carries: [] });
    nothingHere = a.app.services.federation.calls.declareOutbound('test.nothing_here', { carries: [] });
    // A protocol-level test operation on B: echoes, and records each application as an event.
    b.app.services.federation.calls.register({
      name: 'test.apply',
      capability: null,
      residencyKinds: [],
      args: z.strictObject({ key: z.string(), count: z.number().int() }),
      handle: async ({ db, args, now, peer }) => {
        await appendEvent(db, { kind: 'test.applied', actor: `peer:${peer.name}`, payload: { key: args.key } }, now);
        return { doubled: args.count * 2 };
      },
    });
    peering = await federatePair(a, b, { name: 'platform-b' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('answers a signed call and audits it on both sides', async () => {
    const answer = await a.app.services.federation.calls.request(
      await peerOnA(),
      apply,
      { key: 'direct', count: 21 },
      { onBehalfOf: 'alice' },
    );
    expect(answer).toEqual({ doubled: 42 });
    expect(await applied(b, 'direct')).toBe(1);
    expect(await auditActions(a, peering.onA.id)).toContain('peer.call.sent');
    expect(await auditActions(b, peering.onB.id)).toContain('peer.call.received');
    expect((await peerOnA()).lastRttMs).not.toBeNull();
  });

  it('refuses an unknown operation and bad arguments, audited, applying nothing', async () => {
    const peer = await peerOnA();
    const unknown = await a.app.services.federation.calls
      .request(peer, nothingHere, {}, { onBehalfOf: null })
      .catch((err: { code: string; details?: Record<string, unknown> }) => err);
    expect(unknown).toMatchObject({ code: 'not_found', details: { remote_status: 404 } });
    const bad = await a.app.services.federation.calls
      .request(peer, apply, { key: 'bad', count: 'many' }, { onBehalfOf: null })
      .catch((err: { code: string; message: string }) => err);
    expect(bad).toMatchObject({ code: 'invalid_input' });
    expect((bad as { message: string }).message).toContain('count');
    expect(await applied(b, 'bad')).toBe(0);
    const refusals = (await auditActions(b, peering.onB.id)).filter((x) => x === 'peer.call.refused');
    expect(refusals.length).toBeGreaterThanOrEqual(2);
  });

  it('delivers an outbox call once, even when delivered again after a crash before it was settled', async () => {
    const fed = a.app.services.federation;
    const peer = await peerOnA();
    // Resolved before the transaction: on PGlite a query outside an open transaction waits for it.
    const entry = await a.store.db
      .transaction()
      .execute((trx) => fed.calls.enqueue(trx, peer, apply, { key: 'queued', count: 2 }, { onBehalfOf: 'alice' }));
    expect(entry.status).toBe('pending');
    expect(await fed.calls.deliverDue(a.clock.now())).toBe(1);
    const delivered = await a.store.db
      .selectFrom('federation_outbox')
      .selectAll()
      .where('id', '=', entry.id)
      .executeTakeFirstOrThrow();
    expect(delivered).toMatchObject({
      status: 'delivered',
      attempts: 1,
      response_status: 200,
      response: { doubled: 4 },
    });
    expect(await applied(b, 'queued')).toBe(1);

    // A crash after the peer answered but before the row was settled: the entry is pending again.
    await a.store.db
      .updateTable('federation_outbox')
      .set({ status: 'pending', finished_at: null, response: null, response_status: null })
      .where('id', '=', entry.id)
      .execute();
    // Claimed again only once the first attempt's lease ran out.
    expect(await fed.calls.deliverDue(a.clock.now())).toBe(0);
    advanceBoth(OUTBOX_LEASE_MS);
    expect(await fed.calls.deliverDue(a.clock.now())).toBe(1);
    expect(await applied(b, 'queued')).toBe(1);
    const again = await a.store.db
      .selectFrom('federation_outbox')
      .selectAll()
      .where('id', '=', entry.id)
      .executeTakeFirstOrThrow();
    expect(again).toMatchObject({ status: 'delivered', attempts: 2, response: { doubled: 4 } });
  });

  it('coalesces a repeated call still pending: queued and delivered once, another call queued apart', async () => {
    const fed = a.app.services.federation;
    const peer = await peerOnA();
    const enqueue = (args: { key: string; count: number }, coalesce: boolean) =>
      a.store.db
        .transaction()
        .execute((trx) => fed.calls.enqueue(trx, peer, apply, args, { onBehalfOf: 'alice', coalesce }));
    const first = await enqueue({ key: 'repeated', count: 1 }, true);
    const again = await enqueue({ key: 'repeated', count: 1 }, true);
    const other = await enqueue({ key: 'repeated', count: 2 }, true);
    const uncoalesced = await enqueue({ key: 'repeated', count: 1 }, false);
    expect(again.id).toBe(first.id);
    expect(new Set([first.id, other.id, uncoalesced.id]).size).toBe(3);
    expect(await fed.calls.deliverDue(a.clock.now())).toBe(3);
    expect(await applied(b, 'repeated')).toBe(3);
    // Once delivered it is no longer pending: the same call is queued anew.
    const later = await enqueue({ key: 'repeated', count: 1 }, true);
    expect(later.id).not.toBe(first.id);
    expect(await fed.calls.deliverDue(a.clock.now())).toBe(1);
  });

  it('heartbeats: contact, round trip and the chain head recorded by the other side', async () => {
    advanceBoth(HEARTBEAT_MS);
    expect(await a.app.services.federation.heartbeats.sendDue(a.clock.now())).toBe(1);
    // A second call in the same interval sends nothing: the turn was taken.
    expect(await a.app.services.federation.heartbeats.sendDue(a.clock.now())).toBe(0);
    expect((await peerOnB()).lastHeartbeatAt).toEqual(b.clock.now());
    const head = await a.app.services.audit.chainHead(peering.onA.id);
    const recorded = await b.store.db
      .selectFrom('federation_chain_heads')
      .selectAll()
      .where('federation_peer_id', '=', peering.onB.id)
      .orderBy('sequence', 'desc')
      .executeTakeFirstOrThrow();
    expect({ sequence: Number(recorded.sequence), hash: recorded.hash }).toEqual(head);
    const acked = await a.store.db
      .selectFrom('federation_peers')
      .select('acked_sequence')
      .where('id', '=', peering.onA.id)
      .executeTakeFirstOrThrow();
    expect(Number(acked.acked_sequence)).toBe(head.sequence);
    // Heartbeats are not audit entries.
    expect(await auditActions(b, peering.onB.id)).not.toContain('peer.call.received.heartbeat');
  });

  it('shows lost_contact after three silent intervals and recovers when the peer speaks again', async () => {
    const heartbeats = a.app.services.federation.heartbeats;
    advanceBoth(3 * HEARTBEAT_MS - 1);
    expect(await heartbeats.sweepStale(a.clock.now())).toEqual([]);
    advanceBoth(2);
    const lost = await heartbeats.sweepStale(a.clock.now());
    expect(lost.map((p) => p.name)).toEqual(['platform-b']);
    expect((await peerOnA()).status).toBe('lost_contact');
    const stale = await a.app.services.events.recent({ kindPrefix: 'federation.peer.heartbeat_stale', limit: 10 });
    expect(stale.items.map((e) => e.payload.name)).toEqual(['platform-b']);

    // B's heartbeat reaches A: A marks B active again.
    expect(await b.app.services.federation.heartbeats.sendDue(b.clock.now())).toBe(1);
    expect((await peerOnA()).status).toBe('active');
    const recovered = await a.app.services.events.recent({ kindPrefix: 'federation.peer.recovered', limit: 10 });
    expect(recovered.items).toHaveLength(1);
  });

  it('detects audit history rewritten on one side at the other side’s next heartbeat', async () => {
    advanceBoth(HEARTBEAT_MS);
    await a.app.services.federation.heartbeats.sendDue(a.clock.now());
    expect((await peerOnB()).chainMismatchAt).toBeNull();

    // Someone with the table owner's rights rewrites A's history for B, hashes and all: A's own
    // verification passes, but B recorded the old heads.
    await sql`ALTER TABLE peer_audit_log DISABLE TRIGGER peer_audit_log_append_only`.execute(a.store.db);
    try {
      await sql`UPDATE peer_audit_log SET payload = '{"rewritten":true}'::jsonb
                WHERE federation_peer_id = ${peering.onA.id} AND sequence = 1`.execute(a.store.db);
      const rows = await a.store.db
        .selectFrom('peer_audit_log')
        .select('sequence')
        .where('federation_peer_id', '=', peering.onA.id)
        .orderBy('sequence')
        .execute();
      for (const { sequence } of rows) {
        await sql`UPDATE peer_audit_log l SET
                    prev_hash = coalesce((SELECT p.hash FROM peer_audit_log p
                                          WHERE p.federation_peer_id = l.federation_peer_id AND p.sequence = l.sequence - 1),
                                         repeat('0', 64))
                  WHERE l.federation_peer_id = ${peering.onA.id} AND l.sequence = ${sequence}`.execute(a.store.db);
        await sql`UPDATE peer_audit_log l SET hash = flotilla_audit_hash(l.prev_hash, l.federation_peer_id, l.sequence,
                    l.at, l.actor, l.action, l.payload)
                  WHERE l.federation_peer_id = ${peering.onA.id} AND l.sequence = ${sequence}`.execute(a.store.db);
      }
    } finally {
      await sql`ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER peer_audit_log_append_only`.execute(a.store.db);
    }
    expect((await a.app.services.audit.verify(peering.onA.id)).valid).toBe(true);

    advanceBoth(HEARTBEAT_MS);
    await a.app.services.federation.heartbeats.sendDue(a.clock.now());
    const flagged = await peerOnB();
    expect(flagged.chainMismatchAt).not.toBeNull();
    expect(await auditActions(b, peering.onB.id)).toContain('federation.audit.chain_mismatch');
    const events = await b.app.services.events.recent({ kindPrefix: 'federation.audit.chain_mismatch', limit: 5 });
    expect(events.items).toHaveLength(1);
  });

  it('refuses calls to and from a revoked peering; nothing is sent or applied', async () => {
    const admin = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' as const };
    await b.app.services.federation.revoke(admin, peering.onB.id);
    expect((await peerOnA()).status).toBe('revoked');
    const outgoing = await a.app.services.federation.calls
      .request(await peerOnA(), apply, { key: 'after-revoke', count: 1 }, { onBehalfOf: null })
      .catch((err: { code: string }) => err);
    expect(outgoing).toMatchObject({ code: 'conflict' });
    expect(await applied(b, 'after-revoke')).toBe(0);
  });
});
