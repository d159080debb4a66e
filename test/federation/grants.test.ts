// Federation grants between real platforms over loopback HTTP, on injected clocks: a managed_child
// handshake leaves the parent a received grant and the child an issued one (an autonomous_peer none);
// issue, list and revoke through the tools; an expired grant archived by a reconciler tick; emancipation
// when the child revokes the parent's last grant, told to the parent through the outbox; each branch of
// the inbound authorization decision; and refusals that change nothing.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationPeer } from '../../src/domain/federation.js';
import { authorizeInbound } from '../../src/services/peer-authorization.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, type Peering } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const DAY_MS = 86_400_000;

type Grant = Record<string, unknown> & { id: string; status: string; direction: string };

describe.each(STORE_KINDS)('federation grants on %s', (kind) => {
  let a: TestPlatform; // parent of b (managed_child) and of c (autonomous_peer)
  let b: TestPlatform;
  let c: TestPlatform;
  let ab: Peering;
  let ac: Peering;
  let adminA: Client;
  let adminB: Client;
  let adminC: Client;

  const advanceAll = (ms: number): void => {
    for (const p of [a, b, c]) p.clock.advance(ms);
  };
  const grantsOf = async (client: Client, args: Record<string, unknown> = {}): Promise<Grant[]> => {
    const res = await call(client, 'list_federation_grants', { limit: 500, ...args });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    return res.data.grants as Grant[];
  };
  const auditActions = async (p: TestPlatform, peerId: string): Promise<string[]> => {
    const { page } = await p.app.services.federation.auditLog(peerId, { limit: 500 });
    return page.items.map((e) => e.action);
  };
  const events = async (client: Client, prefix: string): Promise<Array<Record<string, unknown>>> =>
    (await call(client, 'recent_events', { kind_prefix: prefix, limit: 100 })).data.events as Array<
      Record<string, unknown>
    >;
  const peer = (p: TestPlatform, id: string): Promise<FederationPeer> => p.app.services.federation.resolve(id);

  /** Everything a refused grant call could have touched on a platform. */
  const snapshot = async (p: TestPlatform) => ({
    grants: await p.store.db.selectFrom('federation_grants').selectAll().orderBy('id').execute(),
    peers: await p.store.db
      .selectFrom('federation_peers')
      .select(['id', 'spawn_mode', 'status'])
      .orderBy('id')
      .execute(),
    audit: await p.store.db
      .selectFrom('peer_audit_log')
      .select(['federation_peer_id', 'sequence', 'hash'])
      .orderBy('federation_peer_id')
      .orderBy('sequence')
      .execute(),
    events: await p.store.db.selectFrom('events').select('id').orderBy('id').execute(),
    outbox: await p.store.db.selectFrom('federation_outbox').select('id').orderBy('id').execute(),
  });

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'parent-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'child-b', region: 'eu-west-1' });
    c = await startTestPlatform(kind, {}, { name: 'child-c', region: 'eu-west-1' });
    ab = await federatePair(a, b, { name: 'child-b', spawnMode: 'managed_child' });
    ac = await federatePair(a, c, { name: 'child-c', spawnMode: 'autonomous_peer' });
    adminA = await a.memoryClient();
    adminB = await b.memoryClient();
    adminC = await c.memoryClient();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await c?.close();
  });

  it('a managed_child handshake gives the parent a received grant and the child an issued one', async () => {
    const expiresAt = new Date(a.clock.now().getTime() + 365 * DAY_MS).toISOString();
    expect(await grantsOf(adminA)).toEqual([
      expect.objectContaining({
        federation_peer_id: ab.onA.id,
        peer_name: 'child-b',
        direction: 'received',
        scopes: ['read', 'write', 'admin'],
        status: 'active',
        expires_at: expiresAt,
        issued_by: 'peer:child-b',
        revoked_at: null,
        archived_at: null,
      }),
    ]);
    expect(await grantsOf(adminB)).toEqual([
      expect.objectContaining({
        federation_peer_id: ab.onB.id,
        peer_name: 'parent-a',
        direction: 'issued',
        scopes: ['read', 'write', 'admin'],
        status: 'active',
        expires_at: expiresAt,
        issued_by: 'test-admin',
      }),
    ]);
    expect(await auditActions(a, ab.onA.id)).toEqual([
      'federation.proposed',
      'federation.accepted',
      'federation.grant.issued',
      'federation.activated',
    ]);
    expect(await auditActions(b, ab.onB.id)).toEqual([
      'federation.accepted',
      'federation.activated',
      'federation.grant.issued',
    ]);
  });

  it('an autonomous_peer handshake gives no grant on either side', async () => {
    expect(await grantsOf(adminA, { federation_peer_id: 'child-c' })).toEqual([]);
    expect(await grantsOf(adminC)).toEqual([]);
    expect(ac.onB.spawnMode).toBe('autonomous_peer');
  });

  it('issues, lists (paged, by peer and status) and revokes a grant, audited, keeping the relationship', async () => {
    advanceAll(60_000);
    const issued = await call(adminB, 'issue_federation_grant', {
      federation_peer_id: 'parent-a',
      scopes: ['write', 'read', 'write'],
      ttl_days: 30,
      reason: 'release week',
    });
    expect(issued.isError, JSON.stringify(issued.error)).toBe(false);
    const grant = issued.data.federation_grant as Grant;
    expect(grant).toMatchObject({
      peer_name: 'parent-a',
      direction: 'issued',
      scopes: ['read', 'write'],
      status: 'active',
      issued_by: 'admin',
      expires_at: new Date(b.clock.now().getTime() + 30 * DAY_MS).toISOString(),
    });

    const viewer = await b.memoryClient(await b.operator('vic-viewer', 'viewer'));
    const first = await call(viewer, 'list_federation_grants', { federation_peer_id: ab.onB.id, limit: 1 });
    expect((first.data.grants as Grant[]).map((g) => g.direction)).toEqual(['issued']);
    expect(first.data.next_cursor).toEqual(expect.any(String));
    const second = await call(viewer, 'list_federation_grants', {
      federation_peer_id: ab.onB.id,
      limit: 1,
      cursor: first.data.next_cursor,
    });
    expect((second.data.grants as Grant[]).map((g) => g.id)).toEqual([grant.id]);
    expect(second.data.next_cursor).toBeNull();

    const revoked = await call(adminB, 'revoke_federation_grant', { grant_id: grant.id, reason: 'done' });
    expect(revoked.isError, JSON.stringify(revoked.error)).toBe(false);
    expect(revoked.data).toMatchObject({
      federation_grant: { id: grant.id, status: 'revoked', revoked_at: b.clock.now().toISOString() },
      emancipated: false,
    });
    expect((await grantsOf(adminB, { status: 'revoked' })).map((g) => g.id)).toEqual([grant.id]);
    expect((await grantsOf(adminB, { status: 'active' })).length).toBe(1);
    expect((await auditActions(b, ab.onB.id)).slice(-2)).toEqual([
      'federation.grant.issued',
      'federation.grant.revoked',
    ]);
    expect((await peer(b, ab.onB.id)).spawnMode).toBe('managed_child');
  });

  it('authorizes a call from the managed child’s parent by its grant', async () => {
    const parentOnB = await peer(b, ab.onB.id);
    const [handshake] = await grantsOf(adminB, { status: 'active' });
    for (const capability of ['inventory.read', 'rollouts.control', '*'] as const) {
      expect(await authorizeInbound(b.store.db, parentOnB, capability, null, b.clock.now())).toEqual({
        via: 'grant',
        grantId: handshake!.id,
      });
    }
  });

  it('authorizes other peers by the operator they act for, refusing each way it can fail', async () => {
    const parentOnC = await peer(c, ac.onB.id); // autonomous: grants never apply
    const now = c.clock.now();
    await c.operator('olga', 'operator');
    await c.operator('vera', 'viewer');
    await c.operator('gone', 'admin');
    for (const name of ['olga', 'vera', 'gone', 'admin']) await bindPeerOperator(c, ac.onB.id, name);
    await c.app.services.operators.revoke('test', 'gone');
    const refusal = (capability: 'inventory.read' | 'rollouts.request' | '*', onBehalfOf: string | null) =>
      authorizeInbound(c.store.db, parentOnC, capability, onBehalfOf, now).then(
        () => null,
        (err: { code: string; details: Record<string, unknown>; message: string }) => err,
      );

    expect(await refusal('inventory.read', null)).toMatchObject({
      code: 'forbidden',
      details: { reason: 'no_operator', capability: 'inventory.read' },
    });
    expect(await refusal('inventory.read', 'nobody')).toMatchObject({
      code: 'forbidden',
      details: { reason: 'unbound_operator', operator: 'nobody' },
    });
    expect(await refusal('rollouts.request', 'vera')).toMatchObject({
      code: 'forbidden',
      details: { reason: 'operator_role', required_role: 'operator', operator_role: 'viewer' },
    });
    expect(await refusal('*', 'olga')).toMatchObject({ details: { reason: 'operator_role', required_role: 'admin' } });
    expect(await authorizeInbound(c.store.db, parentOnC, 'inventory.read', 'vera', now)).toEqual({
      via: 'operator',
      operator: 'vera',
    });
    expect(await authorizeInbound(c.store.db, parentOnC, 'rollouts.request', 'olga', now)).toEqual({
      via: 'operator',
      operator: 'olga',
    });
    expect(await authorizeInbound(c.store.db, parentOnC, '*', 'admin', now)).toEqual({
      via: 'operator',
      operator: 'admin',
    });
    expect(await refusal('inventory.read', 'gone')).toMatchObject({ details: { reason: 'unknown_operator' } });
  });

  it('archives an expired grant on a reconciler tick, with an audit entry and an event', async () => {
    advanceAll(60_000);
    const issued = await call(adminB, 'issue_federation_grant', {
      federation_peer_id: 'parent-a',
      scopes: ['read'],
      ttl_days: 1,
    });
    const grant = issued.data.federation_grant as Grant;
    advanceAll(DAY_MS - 1);
    await b.app.reconciler.tickOnce();
    expect((await grantsOf(adminB, { status: 'active' })).map((g) => g.id)).toContain(grant.id);

    advanceAll(1);
    const tick = await b.app.reconciler.tickOnce();
    expect(tick.failed).not.toContain('grant-archive');
    const [archived] = (await grantsOf(adminB, { status: 'archived' })) as Grant[];
    expect(archived).toMatchObject({ id: grant.id, status: 'archived', archived_at: tick.at.toISOString() });
    expect(await events(adminB, 'federation.grant.archived')).toEqual([
      expect.objectContaining({
        actor: 'reconciler',
        payload: expect.objectContaining({ grant_id: grant.id, peer_id: ab.onB.id, peer_name: 'parent-a' }),
      }),
    ]);
    const { page } = await b.app.services.federation.auditLog(ab.onB.id, { limit: 500 });
    expect(page.items.filter((e) => e.action === 'federation.grant.archived')).toEqual([
      expect.objectContaining({ actor: 'reconciler', payload: expect.objectContaining({ grant_id: grant.id }) }),
    ]);
    // The handshake grant (365 days) is untouched; a second tick archives nothing more.
    await b.app.reconciler.tickOnce();
    expect((await grantsOf(adminB, { status: 'archived' })).length).toBe(1);
    expect((await grantsOf(adminB, { status: 'active' })).length).toBe(1);
  });

  it('refuses bad grant calls and changes nothing', async () => {
    const operator = await b.memoryClient(await b.operator('otto', 'operator'));
    const before = { a: await snapshot(a), b: await snapshot(b), c: await snapshot(c) };
    const [active] = await grantsOf(adminB, { status: 'active' });
    const [revoked] = await grantsOf(adminB, { status: 'revoked' });
    const [received] = await grantsOf(adminA);
    const cases: Array<[Client, string, Record<string, unknown>, string, RegExp?]> = [
      [adminB, 'issue_federation_grant', { federation_peer_id: 'nobody', scopes: ['read'] }, 'not_found', /nobody/],
      [adminB, 'issue_federation_grant', { federation_peer_id: 'parent-a', scopes: ['root'] }, 'invalid_input'],
      [adminB, 'issue_federation_grant', { federation_peer_id: 'parent-a', scopes: [] }, 'invalid_input'],
      [
        adminB,
        'issue_federation_grant',
        { federation_peer_id: 'parent-a', scopes: ['read'], ttl_days: 0 },
        'invalid_input',
      ],
      [
        adminB,
        'issue_federation_grant',
        { federation_peer_id: 'parent-a', scopes: ['read'], ttl_days: 3651 },
        'invalid_input',
      ],
      [operator, 'issue_federation_grant', { federation_peer_id: 'parent-a', scopes: ['read'] }, 'forbidden'],
      [operator, 'revoke_federation_grant', { grant_id: active!.id }, 'forbidden'],
      [adminB, 'revoke_federation_grant', { grant_id: revoked!.id }, 'conflict', /already revoked/],
      [adminB, 'revoke_federation_grant', { grant_id: 'no-such-grant' }, 'not_found', /no-such-grant/],
      [adminA, 'revoke_federation_grant', { grant_id: received!.id }, 'conflict', /received from child-b/],
      // A is the parent here, and C an autonomous peer: grants to them would never be used.
      [adminA, 'issue_federation_grant', { federation_peer_id: 'child-b', scopes: ['read'] }, 'conflict'],
      [adminC, 'issue_federation_grant', { federation_peer_id: 'parent-a', scopes: ['read'] }, 'conflict'],
      [adminB, 'list_federation_grants', { federation_peer_id: 'ghost' }, 'not_found', /ghost/],
    ];
    for (const [client, tool, args, code, message] of cases) {
      const res = await call(client, tool, args);
      expect(res.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(res.error?.code, `${tool} ${JSON.stringify(args)}: ${res.error?.message}`).toBe(code);
      if (message !== undefined) expect(res.error?.message).toMatch(message);
    }
    expect({ a: await snapshot(a), b: await snapshot(b), c: await snapshot(c) }).toEqual(before);
  });

  it('emancipates the child when it revokes the parent’s last grant, and tells the parent', async () => {
    const [last] = await grantsOf(adminB, { status: 'active' });
    const res = await call(adminB, 'revoke_federation_grant', { grant_id: last!.id, reason: 'going independent' });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.emancipated).toBe(true);

    const onB = await peer(b, ab.onB.id);
    expect(onB).toMatchObject({ spawnMode: 'autonomous_peer', spawnRole: 'child' });
    expect(['active', 'lost_contact']).toContain(onB.status);
    expect(await auditActions(b, ab.onB.id)).toEqual(
      expect.arrayContaining(['federation.grant.revoked', 'federation.emancipated', 'peer.call.queued']),
    );
    expect(await events(adminB, 'federation.peer.emancipated')).toEqual([
      expect.objectContaining({
        payload: expect.objectContaining({ peer_id: ab.onB.id, spawn_mode: 'autonomous_peer', by: 'local' }),
      }),
    ]);
    // Without a grant, the former parent is authorized like any peer: by the operator it acts for.
    await expect(authorizeInbound(b.store.db, onB, 'inventory.read', null, b.clock.now())).rejects.toMatchObject({
      details: { reason: 'no_operator' },
    });

    // The outbox delivers grants.changed: the parent revokes its mirror and drops to autonomous_peer.
    const deadline = 20;
    let onA = await peer(a, ab.onA.id);
    for (let i = 0; i < deadline && onA.spawnMode !== 'autonomous_peer'; i++) {
      await b.app.reconciler.tickOnce();
      onA = await peer(a, ab.onA.id);
      if (onA.spawnMode !== 'autonomous_peer') advanceAll(5_000);
    }
    expect(onA).toMatchObject({ spawnMode: 'autonomous_peer', spawnRole: 'parent' });
    expect(onA.status).not.toBe('revoked');
    expect(await grantsOf(adminA, { federation_peer_id: 'child-b' })).toEqual([
      expect.objectContaining({ direction: 'received', status: 'revoked', revoked_at: expect.any(String) }),
    ]);
    expect(await auditActions(a, ab.onA.id)).toEqual(
      expect.arrayContaining(['federation.grant.revoked', 'federation.emancipated']),
    );
    expect(await events(adminA, 'federation.peer.emancipated')).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ peer_id: ab.onA.id, by: 'remote' }) }),
    ]);
  });
  it('revoking a peering withdraws its grants on both sides, audited', async () => {
    const admin = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' as const };
    await c.app.services.federation.revoke(admin, ac.onB.id);
    const managed = await federatePair(a, c, { name: 'child-c-managed', spawnMode: 'managed_child' });
    expect((await grantsOf(adminC, { status: 'active' })).map((g) => g.federation_peer_id)).toEqual([managed.onB.id]);

    const result = await a.app.services.federation.revoke(admin, managed.onA.id);
    expect(result.remoteNotified).toBe(true);
    expect(await grantsOf(adminA, { federation_peer_id: managed.onA.id })).toEqual([
      expect.objectContaining({ direction: 'received', status: 'revoked' }),
    ]);
    expect(await grantsOf(adminC, { federation_peer_id: managed.onB.id })).toEqual([
      expect.objectContaining({ direction: 'issued', status: 'revoked' }),
    ]);
    expect((await auditActions(a, managed.onA.id)).slice(-3)).toEqual([
      'federation.revoked',
      'federation.grant.revoked',
      'federation.revoke.sent',
    ]);
    expect((await auditActions(c, managed.onB.id)).slice(-2)).toEqual([
      'federation.revoked',
      'federation.grant.revoked',
    ]);
  });
});
