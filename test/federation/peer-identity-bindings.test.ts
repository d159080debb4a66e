// Peers act only as the local operator an admin bound to their named operator, over real loopback HTTP
// between a parent (A) and its managed child (B): a signed rollouts.start naming A's `admin` with no
// binding is refused and writes nothing; bound, it runs as the bound operator (rollout and approval
// requested by them, so four-eyes keeps them from approving it); revoking stops it at the next call; each
// binding change is on both platforms' audit logs; and a parent's grant does not let it name a child's operator.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLING_UPGRADE_ACTION } from '../../src/domain/approvals.js';
import type { FederationPeer } from '../../src/domain/federation.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, type Peering } from '../helpers/federation.js';
import { FleetScenario, makeCrew, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('peer identity bindings on %s', (kind) => {
  let a: TestPlatform; // the parent: the target of the child's calls
  let b: TestPlatform; // the managed child
  let ab: Peering;
  let crew: Crew;
  let tokens: Record<string, string>;
  let adminA: Client;

  const aFromB = (): Promise<FederationPeer> => b.app.services.federation.resolve(ab.onB.id);
  const bFromA = (): Promise<FederationPeer> => a.app.services.federation.resolve(ab.onA.id);
  const startArgs = (fleet: FleetScenario) => ({
    federated_rollout_id: randomUUID(),
    module_name: fleet.module,
    target_version: '1.26.0',
    group: fleet.group,
    strategy: { type: 'batch', batch_pct: 50 },
    max_consecutive_failures: 2,
    health_timeout_sec: 300,
    barrier_batch: null,
  });
  /** B signs rollouts.start to A over HTTP on behalf of its operator `who`; answers A's answer or refusal. */
  const startOnA = async (fleet: FleetScenario, who: string) =>
    b.app.services.federation.calls
      .request(await aFromB(), 'rollouts.start', startArgs(fleet), { onBehalfOf: who })
      .then(
        (answer) => ({ ok: true as const, answer: answer as { rollout_id: string; approval_request_id: string } }),
        (err: { code: string; message: string }) => ({ ok: false as const, err }),
      );
  /** What a refused call must leave untouched on A. */
  const stateOfA = async () => ({
    rollouts: await a.store.db.selectFrom('rollouts').selectAll().orderBy('id').execute(),
    approvals: await a.store.db.selectFrom('approval_requests').selectAll().orderBy('id').execute(),
    events: await a.store.db.selectFrom('events').selectAll().orderBy('id').execute(),
    inbox: await a.store.db.selectFrom('federation_inbox').selectAll().execute(),
  });
  const auditActions = async (p: TestPlatform, peerId: string) =>
    (await p.app.services.federation.auditLog(peerId, { limit: 500 })).page.items;
  const bind = async (remote: string, local: string) => {
    const res = await call(adminA, 'create_peer_identity_binding', {
      federation_peer_id: ab.onA.id,
      remote_operator: remote,
      local_operator: local,
      reason: 'the child’s admin plans rollouts here as alice',
    });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    return res.data.binding as { id: string; local_operator: string; status: string };
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind);
    b = await startTestPlatform(kind);
    ab = await federatePair(a, b, { name: 'child-b', spawnMode: 'managed_child' });
    ({ crew, tokens } = await crewWithTokens(a));
    adminA = await a.memoryClient();
    await a.app.services.policies.set(crew.admin, {
      action: ROLLING_UPGRADE_ACTION,
      mode: 'require_approval',
      fourEyes: true,
    });
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('refuses a signed call naming a local operator no admin bound to the peer, and writes nothing', async () => {
    const fleet = await FleetScenario.create(a, crew, 'unbound', 2);
    const before = await stateOfA();
    const auditBefore = await auditActions(a, ab.onA.id);

    const result = await startOnA(fleet, 'admin');

    expect(result).toMatchObject({ ok: false, err: { code: 'forbidden' } });
    expect(!result.ok && result.err.message).toMatch(
      /admin, who is not an active operator here: no admin bound admin of/,
    );
    expect(await stateOfA()).toEqual(before);
    expect((await auditActions(a, ab.onA.id)).slice(auditBefore.length)).toEqual([
      expect.objectContaining({
        action: 'peer.call.refused',
        payload: expect.objectContaining({
          operation: 'rollouts.start',
          on_behalf_of: 'admin',
          code: 'forbidden',
          reason: 'unbound_operator',
        }),
      }),
    ]);
  });

  it('runs a bound call as the bound local operator, whom four-eyes then keeps from approving it', async () => {
    const fleet = await FleetScenario.create(a, crew, 'bound', 2);
    const binding = await bind('admin', 'alice');
    try {
      const result = await startOnA(fleet, 'admin');
      expect(result.ok).toBe(true);
      const { rollout_id, approval_request_id } = result.ok
        ? result.answer
        : { rollout_id: '', approval_request_id: '' };
      expect((await a.app.services.rollouts.get(rollout_id)).rollout).toMatchObject({ requestedBy: 'alice' });
      expect(await a.app.services.approvals.get(approval_request_id)).toMatchObject({ requestedBy: 'alice' });

      const alice = await a.memoryClient(tokens.alice);
      const own = await call(alice, 'decide_approval', { approval_request_id, decision: 'approve' });
      expect(own).toMatchObject({
        isError: true,
        error: { code: 'forbidden', message: expect.stringMatching(/four-eyes/) },
      });
      await a.app.services.approvals.decide(crew.bob, { id: approval_request_id, decision: 'approve' });
      expect((await a.app.services.rollouts.get(rollout_id)).rollout.state).toBe('running');
    } finally {
      await call(adminA, 'revoke_peer_identity_binding', { binding_id: binding.id });
    }
  });

  it('stops a revoked binding at the next call', async () => {
    const fleet = await FleetScenario.create(a, crew, 'revoked', 2);
    const binding = await bind('admin', 'alice');
    const revoked = await call(adminA, 'revoke_peer_identity_binding', { binding_id: binding.id, reason: 'done' });
    expect(revoked.data.binding).toMatchObject({ status: 'revoked', revoked_by: 'admin' });
    const before = await stateOfA();

    expect(await startOnA(fleet, 'admin')).toMatchObject({ ok: false, err: { code: 'forbidden' } });
    expect(await stateOfA()).toEqual(before);
    const listed = await call(adminA, 'list_peer_identity_bindings', {
      federation_peer_id: ab.onA.id,
      status: 'active',
    });
    expect(listed.data.bindings).toEqual([]);
  });

  it('audits each binding change on this platform’s log and, through the outbox, on the peer’s', async () => {
    // Each change is delivered before the next, so the peer records them in order.
    const deliver = () => a.app.services.federation.calls.deliverDue(a.clock.now());
    const binding = await bind('ops', 'planner');
    await deliver();
    await call(adminA, 'revoke_peer_identity_binding', { binding_id: binding.id });
    await deliver();

    const onA = (await auditActions(a, ab.onA.id)).filter((e) => e.action.startsWith('federation.identity.'));
    expect(onA.slice(-2)).toEqual([
      expect.objectContaining({
        actor: 'admin',
        action: 'federation.identity.bound',
        payload: expect.objectContaining({ binding_id: binding.id, remote_operator: 'ops', local_operator: 'planner' }),
      }),
      expect.objectContaining({ actor: 'admin', action: 'federation.identity.revoked' }),
    ]);
    const onB = (await auditActions(b, ab.onB.id)).filter((e) => e.payload.binding_id === binding.id);
    expect(onB).toEqual([
      expect.objectContaining({
        action: 'federation.identity.remote_bound',
        payload: { binding_id: binding.id, operator: 'ops', acts_there_as: 'planner' },
      }),
      expect.objectContaining({ action: 'federation.identity.remote_revoked' }),
    ]);
  });

  it('does not let a parent’s grant name an operator of its managed child that nobody bound', async () => {
    const crewB = await makeCrew(b);
    const fleet = await FleetScenario.create(b, crewB, 'child', 2);
    const rolloutsBefore = await b.store.db.selectFrom('rollouts').selectAll().execute();
    const refused = await a.app.services.federation.calls
      .request(await bFromA(), 'rollouts.start', startArgs(fleet), { onBehalfOf: 'admin' })
      .then(
        () => null,
        (err: { code: string }) => err,
      );
    expect(refused).toMatchObject({ code: 'forbidden' });
    expect(await b.store.db.selectFrom('rollouts').selectAll().execute()).toEqual(rolloutsBefore);
  });

  it('refuses bindings an admin cannot make, changing nothing', async () => {
    const before = await a.store.db.selectFrom('peer_identity_bindings').selectAll().execute();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ federation_peer_id: ab.onA.id, remote_operator: 'x', local_operator: 'nobody' }, 'not_found'],
      [{ federation_peer_id: 'nowhere', remote_operator: 'x', local_operator: 'alice' }, 'not_found'],
      [{ federation_peer_id: ab.onA.id, remote_operator: 'bad\u0000name', local_operator: 'alice' }, 'invalid_input'],
    ];
    for (const [args, code] of cases) {
      expect(await call(adminA, 'create_peer_identity_binding', args)).toMatchObject({
        isError: true,
        error: { code },
      });
    }
    const planner = await a.memoryClient(tokens.planner);
    expect(
      await call(planner, 'create_peer_identity_binding', {
        federation_peer_id: ab.onA.id,
        remote_operator: 'x',
        local_operator: 'planner',
      }),
    ).toMatchObject({ isError: true, error: { code: 'forbidden' } });
    const first = await bind('twice', 'alice');
    expect(
      await call(adminA, 'create_peer_identity_binding', {
        federation_peer_id: ab.onA.id,
        remote_operator: 'twice',
        local_operator: 'bob',
      }),
    ).toMatchObject({ isError: true, error: { code: 'conflict' } });
    await call(adminA, 'revoke_peer_identity_binding', { binding_id: first.id });
    expect(await call(adminA, 'revoke_peer_identity_binding', { binding_id: first.id })).toMatchObject({
      isError: true,
      error: { code: 'conflict' },
    });
    expect((await a.store.db.selectFrom('peer_identity_bindings').selectAll().execute()).length).toBe(
      before.length + 1,
    );
  });
});

/** The test crew of `p` (planner, alice and bob) with their tokens, to act as them over MCP too. */
async function crewWithTokens(p: TestPlatform): Promise<{ crew: Crew; tokens: Record<string, string> }> {
  const tokens = {
    planner: await p.operator('planner', 'operator'),
    alice: await p.operator('alice', 'approver'),
    bob: await p.operator('bob', 'approver'),
  };
  const ops = p.app.services.operators;
  const crew: Crew = {
    admin: await ops.callerByName('admin'),
    planner: await ops.callerByName('planner'),
    alice: await ops.callerByName('alice'),
    bob: await ops.callerByName('bob'),
  };
  return { crew, tokens };
}
