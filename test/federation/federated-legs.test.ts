// The target side of federated rollouts between real platforms over loopback HTTP, on manual clocks: an
// origin (A) calls the leg operations of a target (B) directly — precheck answers, start as the named local
// operator (refused for an unknown one, parked by B's four-eyes policy, applied once however often it is
// delivered), the synchronized barrier held by B's runner until A raises it (and advanced at once when it
// is), a barrier move refused from a third peer (C), controls, status of many legs, and the progress pushed
// to A after B's runner completes a batch.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ROLLING_UPGRADE_ACTION } from '../../src/domain/approvals.js';
import type { LegStatus } from '../../src/domain/federated-legs.js';
import type { FederationPeer } from '../../src/domain/federation.js';
import type { OutboundOperation } from '../../src/domain/outbound-operations.js';
import { OUTBOX_LEASE_MS } from '../../src/domain/peer-calls.js';
import type { PeerCalls } from '../../src/services/peer-calls.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, type Peering } from '../helpers/federation.js';
import { FleetScenario, makeCrew, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

interface OutboxRow {
  status: string;
  attempts: number;
  response_status: number | null;
  response: unknown;
  last_error: string | null;
}

describe.each(STORE_KINDS)('federated rollout legs, target side, on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let c: TestPlatform;
  let ab: Peering;
  let cb: Peering;
  let crew: Crew;
  let client: Client;
  let sent: MockInstance<PeerCalls['request']>;
  /** What A's test handler of rollouts.leg_progress received (when A has no real handler of its own). */
  const received: Array<Record<string, unknown>> = [];

  const platforms = (): TestPlatform[] => [a, b, c];
  const bFromA = (): Promise<FederationPeer> => a.app.services.federation.resolve(ab.onA.id);
  const bFromC = (): Promise<FederationPeer> => c.app.services.federation.resolve(cb.onA.id);
  const direct = async (operation: OutboundOperation, args: Record<string, unknown>, onBehalfOf = 'planner') =>
    a.app.services.federation.calls.request(await bFromA(), operation, args, { onBehalfOf });

  /** Sends `operation` from A through its outbox, delivers it, and answers the settled outbox row. */
  async function outboxed(operation: OutboundOperation, args: Record<string, unknown>, onBehalfOf = 'planner') {
    const calls = a.app.services.federation.calls;
    const peer = await bFromA();
    const entry = await a.store.db
      .transaction()
      .execute((trx) => calls.enqueue(trx, peer, operation, args, { onBehalfOf }));
    await calls.deliverDue(a.clock.now());
    return (await a.store.db
      .selectFrom('federation_outbox')
      .select(['status', 'attempts', 'response_status', 'response', 'last_error'])
      .where('id', '=', entry.id)
      .executeTakeFirstOrThrow()) as OutboxRow;
  }

  const startArgs = (fleet: FleetScenario, extra: Record<string, unknown> = {}) => ({
    federated_rollout_id: randomUUID(),
    module_name: fleet.module,
    target_version: '1.26.0',
    group: fleet.group,
    strategy: { type: 'batch', batch_pct: 25 },
    max_consecutive_failures: 2,
    health_timeout_sec: 300,
    barrier_batch: null,
    ...extra,
  });

  /** Starts a leg on B through A's outbox; answers its federated rollout id and local rollout id. */
  async function started(fleet: FleetScenario, extra: Record<string, unknown> = {}) {
    const args = startArgs(fleet, extra);
    const row = await outboxed('rollouts.start', args);
    expect(row).toMatchObject({ status: 'delivered', response_status: 200 });
    return { ref: args.federated_rollout_id, rolloutId: (row.response as { rollout_id: string }).rollout_id };
  }

  const legs = async (ids: string[]): Promise<LegStatus[]> =>
    ((await direct('rollouts.status', { federated_rollout_ids: ids })) as { legs: LegStatus[] }).legs;
  const leg = async (ref: string): Promise<LegStatus> => (await legs([ref]))[0]!;
  const control = (ref: string, action: string, extra: Record<string, unknown> = {}) =>
    outboxed('rollouts.control', { federated_rollout_id: ref, action, ...extra });
  const rolloutsWithRef = (ref: string) =>
    b.store.db.selectFrom('rollouts').selectAll().where('federation_rollout_ref', '=', ref).execute();
  const countRollouts = async (): Promise<number> =>
    Number(
      (
        await b.store.db
          .selectFrom('rollouts')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const auditOnB = async (peerId: string) =>
    (await b.app.services.federation.auditLog(peerId, { limit: 1000 })).page.items;
  const pushes = (): Array<{ peer: FederationPeer; args: Record<string, unknown> }> =>
    sent.mock.calls
      .filter((args) => args[1] === 'rollouts.leg_progress')
      .map((args) => ({ peer: args[0], args: args[2] }));
  /** Agents heartbeat what they were told, then B's reconciler ticks once. */
  const step = async (fleet: FleetScenario): Promise<void> => {
    await fleet.beat();
    await tick(b);
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b', region: 'eu-west-1' });
    c = await startTestPlatform(kind, {}, { name: 'platform-c', region: 'eu-west-1' });
    ab = await federatePair(a, b, { name: 'platform-b' });
    cb = await federatePair(c, b, { name: 'platform-b' });
    crew = await makeCrew(b);
    for (const name of ['planner', 'alice']) await bindPeerOperator(b, ab.onB.id, name);
    await bindPeerOperator(b, cb.onB.id, 'planner');
    await b.app.services.policies.set(crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    try {
      a.app.services.federation.calls.register({
        name: 'rollouts.leg_progress',
        capability: null,
        residencyKinds: [],
        args: z.record(z.string(), z.unknown()),
        handle: async ({ args }) => {
          received.push(args);
          return { accepted: true };
        },
      });
    } catch {
      // A already answers rollouts.leg_progress itself (the origin side): what B sends is checked on B.
    }
    sent = vi.spyOn(b.app.services.federation.calls, 'request');
    client = await b.memoryClient();
  });
  afterAll(async () => {
    sent?.mockRestore();
    await Promise.allSettled([a?.close(), b?.close(), c?.close()]);
  });

  it('precheck answers whether the version is deployable in the group here', async () => {
    const fleet = await FleetScenario.create(b, crew, 'pre', 3);
    await b.app.services.modules.promote(crew.admin, { versionRef: fleet.broken.id, to: 'archived' });
    const ask = (target_version: string, group = fleet.group, module_name = fleet.module) =>
      direct('rollouts.precheck', { module_name, target_version, group });

    expect(await ask('1.26.0')).toEqual({
      module_found: true,
      version_found: true,
      lifecycle_state: 'published',
      deployable: true,
      group_found: true,
      instance_count: 3,
    });
    expect(await ask('1.26.0-broken')).toMatchObject({
      version_found: true,
      lifecycle_state: 'archived',
      deployable: false,
    });
    expect(await ask('9.9.9')).toMatchObject({ version_found: false, lifecycle_state: null, deployable: false });
    expect(await ask('1.26.0', 'group-nowhere')).toMatchObject({
      deployable: true,
      group_found: false,
      instance_count: 0,
    });
    expect(await ask('1.26.0', fleet.group, 'mod-nowhere')).toMatchObject({
      module_found: false,
      version_found: false,
      deployable: false,
    });
  });

  it('start plans a local rollout run by the named operator, linked to the federated rollout', async () => {
    const fleet = await FleetScenario.create(b, crew, 'start', 4);
    const args = startArgs(fleet);
    const row = await outboxed('rollouts.start', args);
    expect(row).toMatchObject({ status: 'delivered', response_status: 200 });
    const answer = row.response as { rollout_id: string };
    expect(answer).toEqual({
      rollout_id: expect.any(String),
      state: 'running',
      approval_request_id: null,
      batch_count: 4,
    });

    const { rollout } = await b.app.services.rollouts.get(answer.rollout_id);
    expect(rollout).toMatchObject({
      state: 'running',
      requestedBy: 'planner',
      federationRolloutRef: args.federated_rollout_id,
      federationOriginPeerId: ab.onB.id,
      barrierBatch: null,
    });
    // B's own tools still show its rollout, with the link.
    const listed = await call(client, 'list_rollouts', { group: fleet.group });
    expect(listed.data.rollouts).toEqual([
      expect.objectContaining({
        id: answer.rollout_id,
        federation_rollout_ref: args.federated_rollout_id,
        federation_origin_peer_id: ab.onB.id,
        barrier_batch: null,
        requested_by: 'planner',
      }),
    ]);
    const got = await call(client, 'get_rollout', { rollout_id: answer.rollout_id });
    expect(got.data.rollout).toMatchObject({ federation_rollout_ref: args.federated_rollout_id });

    const entry = (await auditOnB(ab.onB.id)).find((e) => e.action === 'federated_rollout.start');
    expect(entry).toMatchObject({
      actor: 'peer:platform-a/planner',
      payload: { federated_rollout_id: args.federated_rollout_id, rollout_id: answer.rollout_id, state: 'running' },
    });
  });

  it('refuses a start for an unknown operator or one without the role, creating nothing', async () => {
    const fleet = await FleetScenario.create(b, crew, 'ghost', 2);
    await b.operator('vera', 'viewer');
    await bindPeerOperator(b, ab.onB.id, 'vera');
    const before = await countRollouts();
    for (const who of ['nobody', 'vera']) {
      const args = startArgs(fleet);
      const row = await outboxed('rollouts.start', args, who);
      expect(row).toMatchObject({ status: 'failed', response_status: 403 });
      expect(row.last_error).toContain(who);
      expect(await rolloutsWithRef(args.federated_rollout_id)).toEqual([]);
    }
    expect(await countRollouts()).toBe(before);
  });

  it('refuses a start B cannot run (missing group, archived version) with the reason, creating nothing', async () => {
    const fleet = await FleetScenario.create(b, crew, 'refused', 2);
    await b.app.services.modules.promote(crew.admin, { versionRef: fleet.broken.id, to: 'archived' });
    const before = await countRollouts();
    const missing = await outboxed('rollouts.start', startArgs(fleet, { group: 'group-nowhere' }));
    expect(missing).toMatchObject({ status: 'failed', response_status: 404 });
    expect(missing.last_error).toContain('group-nowhere');
    const archived = await outboxed('rollouts.start', startArgs(fleet, { target_version: '1.26.0-broken' }));
    expect(archived).toMatchObject({ status: 'failed', response_status: 409 });
    expect(archived.last_error).toContain('archived');
    expect(await countRollouts()).toBe(before);
  });

  it('parks a start under a four-eyes policy until a different local approver approves it', async () => {
    const policies = b.app.services.policies;
    await policies.set(crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'require_approval', fourEyes: true });
    try {
      const fleet = await FleetScenario.create(b, crew, 'foureyes', 2);
      const args = startArgs(fleet);
      const row = await outboxed('rollouts.start', args, 'alice');
      const answer = row.response as { rollout_id: string; approval_request_id: string };
      expect(answer).toMatchObject({ state: 'pending_approval', approval_request_id: expect.any(String) });
      const approvalId = answer.approval_request_id;
      expect(await leg(args.federated_rollout_id)).toMatchObject({
        state: 'pending_approval',
        pending_approval_ids: [approvalId],
        waiting_for: `approval ${approvalId}`,
      });

      const approvals = b.app.services.approvals;
      await expect(approvals.decide(crew.alice, { id: approvalId, decision: 'approve' })).rejects.toMatchObject({
        code: 'forbidden',
      });
      await approvals.decide(crew.bob, { id: approvalId, decision: 'approve' });
      expect(await leg(args.federated_rollout_id)).toMatchObject({ state: 'running', pending_approval_ids: [] });
    } finally {
      await policies.set(crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    }
  });

  it('holds at the barrier, pushes progress to the origin, and advances at once when the barrier is raised', async () => {
    const fleet = await FleetScenario.create(b, crew, 'sync', 4);
    const { ref, rolloutId } = await started(fleet, { barrier_batch: 0 });
    await tick(b);
    expect(await leg(ref)).toMatchObject({ current_batch: 0, completed_batches: 0, waiting_for: 'health: batch 0' });

    sent.mockClear();
    received.length = 0;
    await step(fleet);
    const held = await leg(ref);
    expect(held).toEqual({
      federated_rollout_id: ref,
      rollout_id: rolloutId,
      state: 'running',
      current_batch: 0,
      batch_count: 4,
      completed_batches: 1,
      healthy_total: 1,
      failed_total: 0,
      pending_approval_ids: [],
      barrier_batch: 0,
      waiting_for: 'barrier: batch 1',
    });
    // The tick that completed batch 0 told A, after it committed.
    expect(pushes()).toHaveLength(1);
    expect(pushes()[0]!.peer.id).toBe(ab.onB.id);
    expect(pushes()[0]!.args).toEqual(held);
    if (received.length > 0) expect(received).toEqual([held]);
    const onA = await a.app.services.federation.auditLog(ab.onA.id, { limit: 1000 });
    expect(onA.page.items.some((e) => e.payload.operation === 'rollouts.leg_progress')).toBe(true);

    // Held: more ticks neither start batch 1 nor complete batch 0 again.
    await step(fleet);
    await step(fleet);
    expect(await rolloutEvents(b, rolloutId, 'batch_started')).toHaveLength(1);
    expect(await rolloutEvents(b, rolloutId, 'batch_completed')).toHaveLength(1);
    expect((await leg(ref)).waiting_for).toBe('barrier: batch 1');

    // Raised with a direct call: batch 1 starts in that call, without waiting for a tick.
    const raised = (await direct('rollouts.control', {
      federated_rollout_id: ref,
      action: 'set_barrier',
      barrier_batch: 1,
    })) as LegStatus;
    expect(raised).toMatchObject({
      current_batch: 1,
      barrier_batch: 1,
      completed_batches: 1,
      waiting_for: 'health: batch 1',
    });
    expect(await rolloutEvents(b, rolloutId, 'batch_started')).toHaveLength(2);

    await step(fleet);
    expect(await leg(ref)).toMatchObject({ current_batch: 1, completed_batches: 2, waiting_for: 'barrier: batch 2' });
    // Raised through the outbox to the last batch: the last batch's completion never waits.
    const viaOutbox = await control(ref, 'set_barrier', { barrier_batch: 3 });
    expect(viaOutbox).toMatchObject({ status: 'delivered' });
    expect(viaOutbox.response).toMatchObject({ current_batch: 2, barrier_batch: 3 });
    await step(fleet);
    await step(fleet);
    expect(await leg(ref)).toMatchObject({ state: 'completed', completed_batches: 4, waiting_for: null });
    expect(pushes().map((p) => p.args.state)).toContain('completed');
    expect(await rolloutEvents(b, rolloutId, 'module.upgrade.barrier_set')).toHaveLength(2);
    const audited = (await auditOnB(ab.onB.id)).filter((e) => e.action === 'federated_rollout.set_barrier');
    expect(audited.map((e) => e.payload.barrier_batch)).toEqual([1, 3]);
  });

  it('refuses set_barrier from a peer that did not start the rollout, changing nothing', async () => {
    const fleet = await FleetScenario.create(b, crew, 'notorigin', 2);
    const { ref, rolloutId } = await started(fleet, { barrier_batch: 0 });
    const refused = await c.app.services.federation.calls
      .request(
        await bFromC(),
        'rollouts.control',
        { federated_rollout_id: ref, action: 'set_barrier', barrier_batch: 1 },
        { onBehalfOf: 'planner' },
      )
      .catch((err: { code: string; message: string }) => err);
    expect(refused).toMatchObject({ code: 'forbidden' });
    expect((refused as { message: string }).message).toContain('only the platform that started');
    expect((await b.app.services.rollouts.get(rolloutId)).rollout.barrierBatch).toBe(0);
    expect(await rolloutEvents(b, rolloutId, 'module.upgrade.barrier_set')).toEqual([]);
    const onC = await auditOnB(cb.onB.id);
    expect(onC.map((e) => e.action)).toContain('peer.call.refused');
    expect(onC.map((e) => e.action)).not.toContain('federated_rollout.set_barrier');
  });

  it('applies pause, resume, rollback and abort as the named operator, audited on the peer’s log', async () => {
    const fleet = await FleetScenario.create(b, crew, 'ctl', 4);
    const { ref, rolloutId } = await started(fleet);
    await tick(b);
    const paused = await control(ref, 'pause', { reason: 'maintenance window' });
    expect(paused).toMatchObject({ status: 'delivered' });
    expect(paused.response).toMatchObject({ rollout_id: rolloutId, state: 'paused', waiting_for: 'resume' });
    expect((await control(ref, 'resume')).response).toMatchObject({ state: 'running' });
    expect((await control(ref, 'rollback')).response).toMatchObject({ state: 'rolling_back' });
    sent.mockClear();
    await step(fleet);
    expect(await leg(ref)).toMatchObject({ state: 'rolled_back', waiting_for: null });
    expect(pushes().map((p) => p.args.state)).toEqual(['rolled_back']);

    const other = await FleetScenario.create(b, crew, 'ctlabort', 2);
    const second = await started(other);
    expect((await control(second.ref, 'abort')).response).toMatchObject({ state: 'aborted' });
    expect((await b.app.services.rollouts.get(second.rolloutId)).rollout.reason).toBe('abort from platform-a');

    // A control a leg's state does not allow is refused, and the outbox entry fails for good.
    const again = await control(second.ref, 'resume');
    expect(again).toMatchObject({ status: 'failed', response_status: 409 });

    const entries = (await auditOnB(ab.onB.id)).filter((e) => e.action.startsWith('federated_rollout.'));
    const controls = entries.filter(
      (e) => e.payload.rollout_id === rolloutId || e.payload.rollout_id === second.rolloutId,
    );
    expect(controls.map((e) => e.action)).toEqual([
      'federated_rollout.start',
      'federated_rollout.pause',
      'federated_rollout.resume',
      'federated_rollout.rollback',
      'federated_rollout.start',
      'federated_rollout.abort',
    ]);
    expect(controls[1]).toMatchObject({ actor: 'peer:platform-a/planner', payload: { reason: 'maintenance window' } });
  });

  it('answers the status of several legs in one call, leaving out unknown ids', async () => {
    const first = await started(await FleetScenario.create(b, crew, 'statusone', 2));
    const second = await started(await FleetScenario.create(b, crew, 'statustwo', 2));
    const unknown = randomUUID();
    const answer = await legs([second.ref, unknown, first.ref, second.ref]);
    expect(answer.map((l) => [l.federated_rollout_id, l.rollout_id])).toEqual([
      [second.ref, second.rolloutId],
      [first.ref, first.rolloutId],
    ]);
    expect(answer[0]).toMatchObject({
      state: 'running',
      current_batch: -1,
      batch_count: 2,
      waiting_for: 'start: batch 0',
    });
    expect(await legs([unknown])).toEqual([]);
  });

  it('applies a start delivered twice with the same idempotency key once; a second start is refused', async () => {
    const fleet = await FleetScenario.create(b, crew, 'dup', 2);
    const args = startArgs(fleet);
    const calls = a.app.services.federation.calls;
    // Resolved before the transaction: on PGlite a query outside an open transaction waits for it.
    const peer = await bFromA();
    const entry = await a.store.db
      .transaction()
      .execute((trx) => calls.enqueue(trx, peer, 'rollouts.start', args, { onBehalfOf: 'planner' }));
    await calls.deliverDue(a.clock.now());
    const first = await a.store.db
      .selectFrom('federation_outbox')
      .selectAll()
      .where('id', '=', entry.id)
      .executeTakeFirstOrThrow();
    expect(first).toMatchObject({ status: 'delivered', attempts: 1 });

    // A crash after B answered but before A settled the entry: delivered again once the lease ran out.
    await a.store.db
      .updateTable('federation_outbox')
      .set({ status: 'pending', finished_at: null, response: null, response_status: null })
      .where('id', '=', entry.id)
      .execute();
    for (const p of platforms()) p.clock.advance(OUTBOX_LEASE_MS);
    expect(await calls.deliverDue(a.clock.now())).toBe(1);
    const again = await a.store.db
      .selectFrom('federation_outbox')
      .selectAll()
      .where('id', '=', entry.id)
      .executeTakeFirstOrThrow();
    expect(again).toMatchObject({ status: 'delivered', attempts: 2, response: first.response });
    expect(await rolloutsWithRef(args.federated_rollout_id)).toHaveLength(1);

    // The same federated rollout started again under a new key: one leg per federated rollout.
    const second = await outboxed('rollouts.start', args);
    expect(second).toMatchObject({ status: 'failed', response_status: 409 });
    expect(await rolloutsWithRef(args.federated_rollout_id)).toHaveLength(1);
  });

  it('applies a control delivered twice with the same idempotency key once', async () => {
    const fleet = await FleetScenario.create(b, crew, 'dupctl', 4);
    const { ref, rolloutId } = await started(fleet);
    await tick(b);
    const calls = a.app.services.federation.calls;
    const peer = await bFromA();
    const args = { federated_rollout_id: ref, action: 'pause', reason: 'once only' };
    const entry = await a.store.db
      .transaction()
      .execute((trx) => calls.enqueue(trx, peer, 'rollouts.control', args, { onBehalfOf: 'planner' }));
    const row = () =>
      a.store.db.selectFrom('federation_outbox').selectAll().where('id', '=', entry.id).executeTakeFirstOrThrow();
    await calls.deliverDue(a.clock.now());
    const first = await row();
    expect(first).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(first.response).toMatchObject({ rollout_id: rolloutId, state: 'paused' });

    // A crash after B applied the pause but before A settled the entry: delivered again after the lease.
    await a.store.db
      .updateTable('federation_outbox')
      .set({ status: 'pending', finished_at: null, response: null, response_status: null })
      .where('id', '=', entry.id)
      .execute();
    for (const p of platforms()) p.clock.advance(OUTBOX_LEASE_MS);
    expect(await calls.deliverDue(a.clock.now())).toBe(1);
    expect(await row()).toMatchObject({ status: 'delivered', attempts: 2, response: first.response });
    expect(await rolloutEvents(b, rolloutId, 'paused')).toHaveLength(1);
    const pauses = (await auditOnB(ab.onB.id)).filter(
      (e) => e.action === 'federated_rollout.pause' && e.payload.rollout_id === rolloutId,
    );
    expect(pauses).toHaveLength(1);
    expect((await b.app.services.rollouts.get(rolloutId)).rollout.state).toBe('paused');
  });
});
