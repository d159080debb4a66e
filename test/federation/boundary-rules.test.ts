// Boundary rules between two real platforms over loopback HTTP: create, list and delete through the
// tools, audited on the peer's log; drop * at 100 plus accept inventory.read at 10 makes a default-deny
// boundary that signed calls meet before anything is applied, while protocol calls pass; refusals
// (unknown peer, duplicate priority, bad input, non-admin caller, revoked peering) change nothing.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationPeer } from '../../src/domain/federation.js';
import type { DeclaredOperation } from '../../src/services/peer-calls.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { checkBoundary } from '../../src/services/peer-authorization.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, type Peering } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

type Rule = Record<string, unknown> & { id: string; priority: number };

describe.each(STORE_KINDS)('boundary rules on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let peering: Peering;
  /** The test operations A sends, as declared on A. */
  const sent = new Map<string, DeclaredOperation>();
  let adminB: Client;

  const peerOnA = (): Promise<FederationPeer> => a.app.services.federation.resolve(peering.onA.id);
  const rulesOnB = async (client: Client = adminB): Promise<Rule[]> => {
    const res = await call(client, 'list_boundary_rules', { federation_peer_id: 'platform-a' });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    return res.data.rules as Rule[];
  };
  const create = (args: Record<string, unknown>, client: Client = adminB) =>
    call(client, 'create_boundary_rule', { federation_peer_id: 'platform-a', direction: 'ingress', ...args });
  const applied = async (operation: string): Promise<number> => {
    const row = await b.store.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'test.applied')
      .where(sql<boolean>`payload->>'operation' = ${operation}`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  /** A signed call from A to B on behalf of B's bootstrap admin; the error when B refuses it. */
  const callB = (operation: string) =>
    peerOnA().then((p) =>
      a.app.services.federation.calls.request(p, sent.get(operation)!, {}, { onBehalfOf: 'admin' }).then(
        (answer) => ({ ok: true as const, answer }),
        (err: { code: string; message: string; details?: Record<string, unknown> }) => ({ ok: false as const, err }),
      ),
    );
  const snapshot = async () => ({
    rules: await b.store.db.selectFrom('boundary_rules').selectAll().orderBy('id').execute(),
    audit: await b.store.db
      .selectFrom('peer_audit_log')
      .select(['federation_peer_id', 'sequence', 'hash'])
      .orderBy('sequence')
      .execute(),
    events: await b.store.db.selectFrom('events').select('id').orderBy('id').execute(),
  });

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west-1' });
    for (const [name, capability] of [
      ['test.inventory', 'inventory.read'],
      ['test.rollout', 'rollouts.request'],
      ['test.protocol', null],
    ] as const) {
      b.app.services.federation.calls.register({
        name,
        capability,
        residencyKinds: [],
        args: z.strictObject({}),
        handle: async ({ db, now, peer }) => {
          await appendEvent(
            db,
            { kind: 'test.applied', actor: `peer:${peer.name}`, payload: { operation: name } },
            now,
          );
          return { done: name };
        },
      });
      // Every operation A sends is declared with the data kinds it carries (none here).
      sent.set(name, a.app.services.federation.calls.declareOutbound(name, { carries: [] }));
    }
    peering = await federatePair(a, b, { name: 'platform-b', spawnMode: 'autonomous_peer' });
    await bindPeerOperator(b, peering.onB.id, 'admin');
    adminB = await b.memoryClient();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('accepts every call while a peer has no rules', async () => {
    expect(await rulesOnB()).toEqual([]);
    await expect(checkBoundary(b.store.db, peering.onB.id, '*')).resolves.toBeUndefined();
    expect(await callB('test.rollout')).toEqual({ ok: true, answer: { done: 'test.rollout' } });
  });

  it('creates rules, audited, and lists them by ascending priority, paged', async () => {
    const drop = await create({ action: 'drop', capability: '*', priority: 100 });
    expect(drop.isError, JSON.stringify(drop.error)).toBe(false);
    expect(drop.data.boundary_rule).toMatchObject({
      federation_peer_id: peering.onB.id,
      direction: 'ingress',
      action: 'drop',
      capability: '*',
      priority: 100,
      created_by: 'admin',
    });
    const accept = await create({ action: 'accept', capability: 'inventory.read', priority: 10 });
    expect(accept.isError, JSON.stringify(accept.error)).toBe(false);

    const viewer = await b.memoryClient(await b.operator('vic', 'viewer'));
    expect((await rulesOnB(viewer)).map((r) => [r.priority, r.action, r.capability])).toEqual([
      [10, 'accept', 'inventory.read'],
      [100, 'drop', '*'],
    ]);
    const first = await call(viewer, 'list_boundary_rules', { federation_peer_id: peering.onB.id, limit: 1 });
    expect((first.data.rules as Rule[]).map((r) => r.priority)).toEqual([10]);
    const second = await call(viewer, 'list_boundary_rules', {
      federation_peer_id: peering.onB.id,
      limit: 1,
      cursor: first.data.next_cursor,
    });
    expect((second.data.rules as Rule[]).map((r) => r.priority)).toEqual([100]);
    expect(second.data.next_cursor).toBeNull();

    const { page } = await b.app.services.federation.auditLog(peering.onB.id, { limit: 500 });
    expect(page.items.filter((e) => e.action === 'federation.boundary_rule.created')).toEqual([
      expect.objectContaining({ actor: 'admin', payload: expect.objectContaining({ capability: '*', priority: 100 }) }),
      expect.objectContaining({ payload: expect.objectContaining({ capability: 'inventory.read', priority: 10 }) }),
    ]);
  });

  it('drop * at 100 plus accept inventory.read at 10 denies everything but inventory.read', async () => {
    const [accept, drop] = await rulesOnB();
    await expect(checkBoundary(b.store.db, peering.onB.id, 'inventory.read')).resolves.toBeUndefined();
    for (const capability of ['versions.read', 'rollouts.request', 'audit.read', '*'] as const) {
      await expect(checkBoundary(b.store.db, peering.onB.id, capability), capability).rejects.toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining(drop!.id),
        details: { reason: 'boundary_drop', rule_id: drop!.id, capability, priority: 100 },
      });
    }
    expect(accept!.capability).toBe('inventory.read');

    // Over a real signed call: inventory.read applied, rollouts.request refused (403) before its handler.
    const before = await applied('test.rollout');
    expect(await callB('test.inventory')).toEqual({ ok: true, answer: { done: 'test.inventory' } });
    const refused = await callB('test.rollout');
    expect(refused).toMatchObject({ ok: false, err: { code: 'forbidden', details: { remote_status: 403 } } });
    expect(await applied('test.rollout')).toBe(before);
    const { page } = await b.app.services.federation.auditLog(peering.onB.id, { limit: 500 });
    expect(page.items.at(-1)).toMatchObject({
      action: 'peer.call.refused',
      payload: { operation: 'test.rollout', reason: 'boundary_drop' },
    });
  });

  it('never drops a protocol call, whatever the rules', async () => {
    expect(await callB('test.protocol')).toEqual({ ok: true, answer: { done: 'test.protocol' } });
  });

  it('refuses bad rule calls and changes nothing', async () => {
    const operator = await b.memoryClient(await b.operator('otto', 'operator'));
    const [, drop] = await rulesOnB();
    const before = await snapshot();
    const cases: Array<[string, Record<string, unknown>, string, RegExp?, Client?]> = [
      [
        'create_boundary_rule',
        { federation_peer_id: 'nowhere', direction: 'ingress', action: 'drop', capability: '*', priority: 1 },
        'not_found',
        /nowhere/,
      ],
      [
        'create_boundary_rule',
        {
          federation_peer_id: 'platform-a',
          direction: 'ingress',
          action: 'accept',
          capability: 'audit.read',
          priority: 100,
        },
        'conflict',
        new RegExp(drop!.id),
      ],
      [
        'create_boundary_rule',
        {
          federation_peer_id: 'platform-a',
          direction: 'ingress',
          action: 'drop',
          capability: 'inventory.write',
          priority: 1,
        },
        'invalid_input',
      ],
      [
        'create_boundary_rule',
        { federation_peer_id: 'platform-a', direction: 'ingress', action: 'drop', capability: '*', priority: -1 },
        'invalid_input',
      ],
      [
        'create_boundary_rule',
        { federation_peer_id: 'platform-a', direction: 'egress', action: 'drop', capability: '*', priority: 1 },
        'invalid_input',
      ],
      [
        'create_boundary_rule',
        { federation_peer_id: 'platform-a', direction: 'ingress', action: 'reject', capability: '*', priority: 1 },
        'invalid_input',
      ],
      [
        'create_boundary_rule',
        { federation_peer_id: 'platform-a', direction: 'ingress', action: 'drop', capability: '*', priority: 1 },
        'forbidden',
        undefined,
        operator,
      ],
      ['delete_boundary_rule', { rule_id: drop!.id }, 'forbidden', undefined, operator],
      ['delete_boundary_rule', { rule_id: 'no-such-rule' }, 'not_found', /no-such-rule/],
      ['delete_boundary_rule', { rule_id: '00000000-0000-4000-8000-000000000000' }, 'not_found'],
      ['list_boundary_rules', { federation_peer_id: 'ghost' }, 'not_found', /ghost/],
    ];
    for (const [tool, args, code, message, client] of cases) {
      const res = await call(client ?? adminB, tool, args);
      expect(res.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(res.error?.code, `${tool} ${JSON.stringify(args)}: ${res.error?.message}`).toBe(code);
      if (message !== undefined) expect(res.error?.message).toMatch(message);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('deletes a rule, audited, and the boundary opens again', async () => {
    const [, drop] = await rulesOnB();
    const res = await call(adminB, 'delete_boundary_rule', { rule_id: drop!.id });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.boundary_rule).toMatchObject({ id: drop!.id, action: 'drop', capability: '*' });
    expect((await rulesOnB()).map((r) => r.priority)).toEqual([10]);
    const { page } = await b.app.services.federation.auditLog(peering.onB.id, { limit: 500 });
    expect(page.items.at(-1)).toMatchObject({
      action: 'federation.boundary_rule.deleted',
      actor: 'admin',
      payload: { rule_id: drop!.id, priority: 100 },
    });
    expect(await callB('test.rollout')).toEqual({ ok: true, answer: { done: 'test.rollout' } });
  });

  it('refuses new rules for a revoked peering but still deletes its old ones', async () => {
    await b.app.services.federation.revoke({ operatorId: 'x', name: 'admin', role: 'admin' }, 'platform-a');
    const before = await snapshot();
    const refused = await create({ action: 'drop', capability: '*', priority: 5 });
    expect(refused.error).toMatchObject({ code: 'conflict', message: expect.stringContaining('revoked') });
    expect(await snapshot()).toEqual(before);
    const [left] = await rulesOnB();
    expect((await call(adminB, 'delete_boundary_rule', { rule_id: left!.id })).isError).toBe(false);
    expect(await rulesOnB()).toEqual([]);
  });
});
