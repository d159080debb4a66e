// Data residency (seed Tutorial 11, Steps 4–5) between two real platforms over loopback HTTP: A in
// eu-west-1, B in us-east-1. A policy set on a proposed peer travels in the accept answer; set, get and
// clear are audited on the peer's WORM log; a signed call carrying pinned kinds to a peer outside the
// region is refused before a byte leaves, audited, and changes nothing else; an override lets exactly one
// transfer through (audited with its reason); relaxing the policy lets calls through again.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationPeer } from '../../src/domain/federation.js';
import type { DeclaredOperation } from '../../src/services/peer-calls.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, rejection } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const TUTORIAL_POLICY = {
  resource_kinds: ['secrets', 'credentials'],
  constraint: 'must_not_leave_region',
  region: 'eu-west-1',
};

describe.each(STORE_KINDS)('data residency on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let adminA: Client;
  let adminB: Client;
  let received = 0;
  // A's test transfer: its `secret` field carries secrets, its `note` field inventory.
  let receiveSecrets: DeclaredOperation;

  const peerOnA = (ref: string): Promise<FederationPeer> => a.app.services.federation.resolve(ref);
  const auditOf = async (p: TestPlatform, ref: string) => {
    const { page } = await p.app.services.federation.auditLog(ref, { limit: 500 });
    return page.items;
  };
  const policyRows = (p: TestPlatform) => p.store.db.selectFrom('data_residency_policies').selectAll().execute();
  const overrideRows = (p: TestPlatform) =>
    p.store.db.selectFrom('residency_overrides').selectAll().orderBy('created_at').execute();
  /** A signed call from A to B carrying secrets, as an outbound transfer would. */
  const sendSecrets = async (ref: string) =>
    a.app.services.federation.calls.request(
      await peerOnA(ref),
      receiveSecrets,
      { secret: 's3cr3t' },
      { onBehalfOf: 'admin', actor: 'admin' },
    );

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'parent-a', region: 'eu-west-1' });
    b = await startTestPlatform(kind, {}, { name: 'child-b', region: 'us-east-1' });
    adminA = await a.memoryClient();
    adminB = await b.memoryClient();
    receiveSecrets = a.app.services.federation.calls.declareOutbound('test.receive_secrets', {
      carries: [],
      parts: { secret: ['secrets'], note: ['inventory'] },
    });
    b.app.services.federation.calls.register({
      name: 'test.receive_secrets',
      capability: null,
      residencyKinds: [],
      args: z.strictObject({ secret: z.string().optional(), note: z.string().optional() }),
      handle: async () => {
        received += 1;
        return { stored: true };
      },
    });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('carries a policy set on a proposed peer to the child in the accept answer', async () => {
    const proposed = await call(adminA, 'propose_federation_peer', { name: 'early-b', spawn_mode: 'autonomous_peer' });
    const set = await call(adminA, 'set_data_residency', { federation_peer_id: 'early-b', policy: TUTORIAL_POLICY });
    expect(set.isError, JSON.stringify(set.error)).toBe(false);
    const accepted = await call(adminB, 'accept_federation_peer', {
      parent_url: a.app.http!.url,
      acceptance_token: proposed.data.acceptance_token,
    });
    expect(accepted.isError, JSON.stringify(accepted.error)).toBe(false);
    const onB = (accepted.data.federation_peer as { id: string }).id;

    const seenByB = await call(adminB, 'get_data_residency', { federation_peer_id: onB });
    expect(seenByB.data).toMatchObject({ policy: null, remote_policy: TUTORIAL_POLICY, peer_region: 'eu-west-1' });
    // Done with it: B may peer with A again below.
    expect((await call(adminA, 'revoke_federation_peer', { federation_peer_id: 'early-b' })).isError).toBe(false);
  });

  it('follows Steps 4–5: set_data_residency, then get_data_residency and the audit log show it', async () => {
    await federatePair(a, b, { name: 'child-b' });
    const set = await call(adminA, 'set_data_residency', { federation_peer_id: 'child-b', policy: TUTORIAL_POLICY });
    expect(set.isError, JSON.stringify(set.error)).toBe(false);
    expect(set.data).toMatchObject({ federation_peer_name: 'child-b', policy: TUTORIAL_POLICY, previous_policy: null });

    const got = await call(adminA, 'get_data_residency', { federation_peer_id: 'child-b' });
    expect(got.data).toEqual({
      federation_peer_id: (await peerOnA('child-b')).id,
      federation_peer_name: 'child-b',
      policy: TUTORIAL_POLICY,
      set_by: 'admin',
      set_at: a.clock.now().toISOString(),
      remote_policy: null,
      peer_region: 'us-east-1',
      peer_region_source: 'declared',
      peer_declared_region: 'us-east-1',
      complies: false,
      blocked_kinds: ['secrets', 'credentials'],
      open_overrides: [],
    });

    const log = await call(adminA, 'get_audit_log', { federation_peer_id: 'child-b' });
    const entries = log.data.entries as Array<{ sequence: number; action: string; actor: string; payload: unknown }>;
    expect(entries.map((e) => e.sequence)).toEqual(entries.map((_, i) => i + 1));
    expect(entries.slice(0, 2).map((e) => e.action)).toEqual(['federation.proposed', 'federation.accepted']);
    expect(entries.at(-1)).toMatchObject({
      action: 'data_residency.set',
      actor: 'admin',
      payload: { policy: TUTORIAL_POLICY, previous: null, peer_region: 'us-east-1' },
    });
    expect((await call(adminA, 'verify_audit_log', { federation_peer_id: 'child-b' })).data).toMatchObject({
      valid: true,
    });
  });

  it('refuses a call carrying secrets to a peer outside the region before anything is sent, and audits it', async () => {
    const logA = (await auditOf(a, 'child-b')).length;
    const peerB = (await b.app.services.federation.list({ limit: 50 })).items.find((p) => p.status === 'active')!;
    const logB = (await auditOf(b, peerB.id)).length;
    const policies = await policyRows(a);

    const err = await rejection(sendSecrets('child-b'));
    expect(err).toMatchObject({
      code: 'data_residency_violation',
      details: {
        action: 'test.receive_secrets',
        resource_kinds: ['secrets'],
        peer_region: 'us-east-1',
        policy_region: 'eu-west-1',
      },
    });
    expect((err as { hint?: string }).hint).toMatch(/in-region.*relax the policy.*override_data_residency/);

    expect(received).toBe(0);
    expect((await auditOf(b, peerB.id)).length).toBe(logB);
    const after = await auditOf(a, 'child-b');
    expect(after.length).toBe(logA + 1);
    expect(after.at(-1)).toMatchObject({
      action: 'data_residency.violation',
      payload: {
        action: 'test.receive_secrets',
        resource_kinds: ['secrets'],
        peer_region: 'us-east-1',
        policy_region: 'eu-west-1',
      },
    });
    expect(await policyRows(a)).toEqual(policies);
  });

  it('lets kinds the policy does not pin through', async () => {
    const answer = await a.app.services.federation.calls.request(
      await peerOnA('child-b'),
      receiveSecrets,
      { note: 'not really' },
      { onBehalfOf: 'admin' },
    );
    expect(answer).toEqual({ stored: true });
    expect(received).toBe(1);
    received = 0;
  });

  it('an override lets exactly one transfer through, audited with its reason; the next is refused', async () => {
    const created = await call(adminA, 'override_data_residency', {
      federation_peer_id: 'child-b',
      resource_kinds: ['secrets'],
      reason: 'one-off key escrow for incident INC-42',
    });
    expect(created.isError, JSON.stringify(created.error)).toBe(false);
    const overrideId = (created.data.override as { id: string }).id;
    expect((await call(adminA, 'get_data_residency', { federation_peer_id: 'child-b' })).data.open_overrides).toEqual([
      expect.objectContaining({ id: overrideId, resource_kinds: ['secrets'], consumed_at: null }),
    ]);

    expect(await sendSecrets('child-b')).toEqual({ stored: true });
    expect(received).toBe(1);
    const second = await rejection(sendSecrets('child-b'));
    expect(second.code).toBe('data_residency_violation');
    expect(received).toBe(1);

    const actions = (await auditOf(a, 'child-b')).map((e) => e.action);
    expect(actions.slice(-4)).toEqual([
      'data_residency.override_created',
      'data_residency.override_used',
      'peer.call.sent',
      'data_residency.violation',
    ]);
    const entries = await auditOf(a, 'child-b');
    const used = entries.filter((e) => e.action === 'data_residency.override_used');
    expect(used).toEqual([
      expect.objectContaining({
        actor: 'system',
        payload: expect.objectContaining({
          override_id: overrideId,
          reason: 'one-off key escrow for incident INC-42',
          resource_kinds: ['secrets'],
          action: 'test.receive_secrets',
        }),
      }),
    ]);
    expect(entries.at(-1)!.action).toBe('data_residency.violation');
    expect(await overrideRows(a)).toEqual([
      expect.objectContaining({ id: overrideId, consumed_action: 'test.receive_secrets' }),
    ]);
  });

  it('two concurrent transfers cannot both use one override', async () => {
    await call(adminA, 'override_data_residency', {
      federation_peer_id: 'child-b',
      resource_kinds: ['secrets', 'credentials'],
      reason: 'race test',
    });
    const peer = await peerOnA('child-b');
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map(() => a.app.services.residency.enforce(a.store.db, peer, ['secrets'], 'test.race')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o.reason as { code: string }).code)).toEqual([
      'data_residency_violation',
      'data_residency_violation',
    ]);
    expect((await overrideRows(a)).filter((o) => o.consumed_at === null)).toEqual([]);
  });

  it('refuses overrides that make no sense and writes nothing', async () => {
    const before = (await auditOf(a, 'child-b')).length;
    const unpinned = await call(adminA, 'override_data_residency', {
      federation_peer_id: 'child-b',
      resource_kinds: ['inventory'],
      reason: 'not pinned',
    });
    expect(unpinned.error).toMatchObject({ code: 'invalid_input' });
    const viewer = await a.memoryClient(await a.operator('vera', 'viewer'));
    const forbidden = await call(viewer, 'override_data_residency', {
      federation_peer_id: 'child-b',
      resource_kinds: ['secrets'],
      reason: 'viewers cannot',
    });
    expect(forbidden.error).toMatchObject({ code: 'forbidden' });
    const notSet = await call(viewer, 'set_data_residency', { federation_peer_id: 'child-b', policy: null });
    expect(notSet.error).toMatchObject({ code: 'forbidden' });
    const badPolicy = await call(adminA, 'set_data_residency', {
      federation_peer_id: 'child-b',
      policy: { ...TUTORIAL_POLICY, constraint: 'may_leave_region' },
    });
    expect(badPolicy.error).toMatchObject({ code: 'invalid_input' });
    const unknownPeer = await call(adminA, 'get_data_residency', { federation_peer_id: 'nobody' });
    expect(unknownPeer.error).toMatchObject({ code: 'not_found', message: 'no federation peer nobody' });
    expect((await auditOf(a, 'child-b')).length).toBe(before);
    const childB = (await peerOnA('child-b')).id;
    const rows = await policyRows(a);
    expect(rows.find((r) => r.federation_peer_id === childB)).toMatchObject({
      resource_kinds: ['secrets', 'credentials'],
      region: 'eu-west-1',
    });
  });

  it('relaxing the policy to a region holding the peer lets the transfer through; clearing is audited', async () => {
    const relaxed = await call(adminA, 'set_data_residency', {
      federation_peer_id: 'child-b',
      policy: { ...TUTORIAL_POLICY, region: 'us' },
    });
    expect(relaxed.data).toMatchObject({ complies: true, blocked_kinds: [], previous_policy: TUTORIAL_POLICY });
    received = 0;
    expect(await sendSecrets('child-b')).toEqual({ stored: true });
    expect(received).toBe(1);

    const cleared = await call(adminA, 'set_data_residency', { federation_peer_id: 'child-b', policy: null });
    expect(cleared.data).toMatchObject({ policy: null, set_by: null, complies: true });
    const entries = await auditOf(a, 'child-b');
    expect(entries.at(-1)).toMatchObject({
      action: 'data_residency.cleared',
      actor: 'admin',
      payload: { previous: { ...TUTORIAL_POLICY, region: 'us' } },
    });
    // Clearing again changes nothing and writes nothing.
    await call(adminA, 'set_data_residency', { federation_peer_id: 'child-b', policy: null });
    expect((await auditOf(a, 'child-b')).length).toBe(entries.length);
    const events = (await call(adminA, 'recent_events', { kind_prefix: 'federation.data_residency.' })).data
      .events as Array<{ kind: string }>;
    expect(events.map((e) => e.kind)).toEqual([
      'federation.data_residency.cleared',
      'federation.data_residency.set',
      'federation.data_residency.set',
      'federation.data_residency.set',
    ]);
  });
});
