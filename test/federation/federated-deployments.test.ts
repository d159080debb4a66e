// Federated deployments over three real platforms on loopback HTTP: a host that creates them and two peers
// (eu, us) whose heartbeats carry their capacity. Weighted shares land on each peer as per-instance desired
// versions, assigned there as the named operator; drift injected on a peer through its own services is found
// on the next reconciler tick and repaired through the outbox; data residency excludes a peer; refusals
// (a viewer, bad overrides, an infeasible placement) write nothing. Time moves only with the clocks.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, heartbeatRound } from '../helpers/federation.js';
import { countEvents, digest, enrollInstances, heartbeat, instancesAssigned, type Enrolled } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const HEARTBEAT_MS = 15_000;
const ADMIN: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'admin', role: 'admin' };
const NGINX = digest('b');

interface ShareView {
  peer_name: string;
  desired: number;
  assigned: number | null;
  running_healthy: number | null;
  drifted: number | null;
  state: string;
  last_contact_at: string | null;
  propagated_at: string | null;
}

describe.each(STORE_KINDS)('federated deployments over real peers on %s', (kind) => {
  let host: TestPlatform;
  let eu: TestPlatform;
  let us: TestPlatform;
  let admin: Client;
  let viewer: Client;
  const agents = new Map<TestPlatform, Enrolled[]>();
  let deploymentId = '';
  let euMostly = '';

  const platforms = (): TestPlatform[] => [host, eu, us];
  const heartbeatPeers = (): Promise<void> => heartbeatRound(platforms(), HEARTBEAT_MS);
  /** Every agent of `p` reports it runs nginx 1.26.0, healthy. */
  const agentsRunNginx = async (p: TestPlatform): Promise<void> => {
    for (const a of agents.get(p) ?? []) {
      const res = await heartbeat(p.app.http!.url, a.agent_token, {
        running_module_digests: { nginx: NGINX },
        health: 'ok',
      });
      expect(res.status).toBe(200);
    }
  };
  /** Instances of `p` whose desired nginx is `version`. */
  const desired = (p: TestPlatform, version: string): Promise<string[]> =>
    instancesAssigned(p.store.db, 'nginx', version);
  /** How many instances of `p` each deployment claims there, by deployment name as the host knows it. */
  const claims = async (p: TestPlatform): Promise<Record<string, number>> => {
    const rows = await p.store.db
      .selectFrom('federated_deployment_assignments')
      .select(['federated_deployment_id', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('federated_deployment_id')
      .execute();
    const names = await host.store.db.selectFrom('federated_deployments').select(['id', 'name']).execute();
    const nameOf = new Map(names.map((r) => [r.id, r.name]));
    return Object.fromEntries(rows.map((r) => [nameOf.get(r.federated_deployment_id) ?? '?', Number(r.n)]));
  };
  const create = (args: Record<string, unknown>, client: Client = admin) =>
    call(client, 'create_federated_deployment', {
      module_name: 'nginx',
      version: '1.26.0',
      group: 'web',
      peers: ['peer-eu', 'peer-us'],
      ...args,
    });
  const get = async (id = deploymentId) => {
    const res = await call(viewer, 'get_federated_deployment', { federated_deployment_id: id });
    expect(res.isError).toBe(false);
    const d = res.data.federated_deployment as { overall: string; state: string; shares: ShareView[] };
    return { ...d, byPeer: Object.fromEntries(d.shares.map((s) => [s.peer_name, s])) };
  };
  /** Rows a refused create must leave as they were. */
  const footprint = async () => {
    const db = host.store.db;
    const count = async (
      table: 'federated_deployments' | 'federated_deployment_shares' | 'federation_outbox' | 'events',
    ) =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      deployments: await count('federated_deployments'),
      shares: await count('federated_deployment_shares'),
      outbox: await count('federation_outbox'),
      events: await count('events'),
      peerDesired: [await desired(eu, '1.26.0'), await desired(us, '1.26.0')],
    };
  };

  beforeAll(async () => {
    host = await startTestPlatform(kind, {}, { name: 'host', region: 'eu-west-1' });
    eu = await startTestPlatform(kind, {}, { name: 'eu', region: 'eu-west-1' });
    us = await startTestPlatform(kind, {}, { name: 'us', region: 'us-east-1' });
    await federatePair(host, eu, { name: 'peer-eu' });
    await federatePair(host, us, { name: 'peer-us' });
    for (const peer of [eu, us]) await bindPeerOperator(peer, 'host', 'admin');
    admin = await host.memoryClient();
    viewer = await host.memoryClient(await host.operator('vera', 'viewer'));
    for (const p of platforms()) {
      const client = await p.memoryClient();
      for (const [version, d] of [
        ['1.25.0', digest('a')],
        ['1.26.0', NGINX],
      ] as const) {
        const published = await call(client, 'publish_module_version', { module_name: 'nginx', version, digest: d });
        expect(published.isError).toBe(false);
      }
    }
    for (const [p, n] of [
      [eu, 4],
      [us, 4],
      [host, 2],
    ] as const) {
      agents.set(p, await enrollInstances(p, 'web', n));
    }
    await heartbeatPeers();
  });
  afterAll(async () => {
    for (const p of [host, eu, us]) await p?.close();
  });

  it('refuses a viewer, overrides naming no peer and an infeasible placement, writing nothing', async () => {
    const before = await footprint();
    const placement = { strategy: 'weighted', weights: { 'peer-eu': 3, 'peer-us': 1 } };
    const asViewer = await create({ name: 'web-nginx', replicas: 4, placement }, viewer);
    expect(asViewer.error?.code).toBe('forbidden');
    const badOverride = await create({
      name: 'web-nginx',
      replicas: 4,
      placement,
      overrides: { 'peer-xx': { version: '1.25.0' } },
    });
    expect(badOverride.error?.code).toBe('invalid_input');
    expect(badOverride.error?.message).toContain('peer-xx');
    const tooMany = await create({ name: 'web-nginx', replicas: 100, placement: { strategy: 'resource_based' } });
    expect(tooMany.error?.code).toBe('conflict');
    expect(tooMany.error?.message).toContain('infeasible');
    const unknownVersion = await create({ name: 'web-nginx', replicas: 4, placement, version: '9.9.9' });
    expect(unknownVersion.isError).toBe(true);
    expect(await footprint()).toEqual(before);
  });

  it('lands weighted shares on each peer as the named operator, and aggregates them', async () => {
    const res = await create({
      name: 'web-nginx',
      replicas: 4,
      placement: { strategy: 'weighted', weights: { 'peer-eu': 3, 'peer-us': 1 } },
    });
    expect(res.isError).toBe(false);
    const created = res.data.federated_deployment as { federated_deployment_id: string; shares: ShareView[] };
    deploymentId = created.federated_deployment_id;
    expect(created.shares.map((s) => [s.peer_name, s.desired, s.state])).toEqual([
      ['peer-eu', 3, 'pending'],
      ['peer-us', 1, 'pending'],
    ]);
    expect(await host.app.services.federation.calls.deliverDue(host.clock.now())).toBe(2);
    expect(await desired(eu, '1.26.0')).toHaveLength(3);
    expect(await desired(us, '1.26.0')).toHaveLength(1);
    // Assigned there as the named operator, audited on the peer's log for the host.
    const assignedBy = await eu.store.db.selectFrom('instance_desired_versions').select('assigned_by').execute();
    expect(assignedBy.map((r) => r.assigned_by)).toEqual([ADMIN.name, ADMIN.name, ADMIN.name]);
    const audited = await eu.store.db
      .selectFrom('peer_audit_log')
      .select('action')
      .where('action', '=', 'federated_deployment.assign')
      .execute();
    expect(audited).toHaveLength(1);

    let d = await get();
    expect(d.overall).toBe('progressing');
    // Each step of the flow is in the host's event log: defined and scheduled, propagated to each peer.
    const steps = await host.store.db
      .selectFrom('events')
      .select(['kind', 'payload'])
      .where('kind', 'like', 'federation.deployment.%')
      .orderBy('id')
      .execute();
    expect(steps.map((e) => e.kind)).toEqual([
      'federation.deployment.created',
      'federation.deployment.propagated',
      'federation.deployment.propagated',
    ]);
    expect(steps[0]!.payload).toMatchObject({ shares: { 'peer-eu': 3, 'peer-us': 1 } });
    expect(steps.slice(1).map((e) => e.payload)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ peer_name: 'peer-eu', replicas: 3, assigned: 3 }),
        expect.objectContaining({ peer_name: 'peer-us', replicas: 1, assigned: 1 }),
      ]),
    );
    expect(d.byPeer['peer-eu']!.propagated_at).toBe(host.clock.now().toISOString());
    expect(d.byPeer['peer-eu']).toMatchObject({ desired: 3, assigned: 3, running_healthy: 0, state: 'progressing' });
    expect(d.byPeer['peer-us']).toMatchObject({ desired: 1, assigned: 1, running_healthy: 0, state: 'progressing' });

    await agentsRunNginx(eu);
    await agentsRunNginx(us);
    await host.app.reconciler.tickOnce();
    d = await get();
    expect(d.overall).toBe('in_sync');
    const changed = await host.store.db
      .selectFrom('events')
      .select('payload')
      .where('kind', '=', 'federation.deployment.state_changed')
      .execute();
    expect(changed.map((e) => e.payload)).toEqual([
      expect.objectContaining({ name: 'web-nginx', from: 'progressing', to: 'in_sync' }),
    ]);
    expect(d.byPeer['peer-eu']).toMatchObject({ assigned: 3, running_healthy: 3, drifted: 0, state: 'in_sync' });
    expect(d.byPeer['peer-us']).toMatchObject({ assigned: 1, running_healthy: 1, drifted: 0, state: 'in_sync' });
    expect(d.byPeer['peer-eu']!.last_contact_at).toBe(host.clock.now().toISOString());

    const listed = await call(viewer, 'list_federated_deployments', {});
    expect(listed.data.federated_deployments).toEqual([
      expect.objectContaining({ name: 'web-nginx', overall: 'in_sync', share_count: 2 }),
    ]);
    expect(await countEvents(host.store.db, 'federation.deployment.drifted')).toBe(0);
  });

  it('finds drift injected on a peer on the next tick and repairs it through the outbox', async () => {
    const [victim] = await desired(eu, '1.26.0');
    const local: Caller = { operatorId: ADMIN.operatorId, name: 'eu-operator', role: 'operator' };
    await eu.app.services.fleet.assign(local, {
      group: { groupName: 'web' },
      module: { moduleName: 'nginx' },
      versionRef: '1.25.0',
      instanceIds: [victim!],
    });
    expect(await desired(eu, '1.26.0')).toHaveLength(2);

    // One tick: the status poll finds eu short of its share, reports it and re-sends the share, which the
    // outbox step delivers in the same tick.
    await host.app.reconciler.tickOnce();
    expect(await countEvents(host.store.db, 'federation.deployment.drifted')).toBe(1);
    const event = await host.store.db
      .selectFrom('events')
      .select('payload')
      .where('kind', '=', 'federation.deployment.drifted')
      .executeTakeFirstOrThrow();
    expect(event.payload).toMatchObject({
      name: 'web-nginx',
      peer_name: 'peer-eu',
      desired: 3,
      assigned: 2,
      reasons: ['peer-eu has 2 of its 3 replica(s) assigned'],
    });
    // The victim runs another version now: eu moves it back by a rolling upgrade scoped to it, under eu's
    // own four-eyes policy, so it waits for an eu approver and the share shows it upgrading, not drifted.
    expect(await desired(eu, '1.26.0')).toHaveLength(2);
    const [rollout] = await eu.store.db
      .selectFrom('rollouts')
      .select(['id', 'state', 'instance_ids', 'approval_request_id', 'requested_by'])
      .execute();
    expect(rollout).toMatchObject({ state: 'pending_approval', instance_ids: [victim], requested_by: ADMIN.name });
    await host.app.reconciler.tickOnce();
    expect((await get()).byPeer['peer-eu']).toMatchObject({ assigned: 2, state: 'progressing' });
    expect(await countEvents(host.store.db, 'federation.deployment.drifted')).toBe(1);

    const approver = await eu.memoryClient(await eu.operator('eve', 'approver'));
    const approved = await call(approver, 'decide_approval', {
      approval_request_id: rollout!.approval_request_id,
      decision: 'approve',
    });
    expect(approved.isError).toBe(false);
    await eu.app.reconciler.tickOnce();
    expect(await desired(eu, '1.26.0')).toHaveLength(3);
    await agentsRunNginx(eu);
    for (let i = 0; i < 3; i += 1) await eu.app.reconciler.tickOnce();
    const done = await eu.store.db.selectFrom('rollouts').select('state').executeTakeFirstOrThrow();
    expect(done.state).toBe('completed');

    await host.app.reconciler.tickOnce();
    const d = await get();
    expect(d.overall).toBe('in_sync');
    expect(d.byPeer['peer-eu']).toMatchObject({ assigned: 3, running_healthy: 3, state: 'in_sync' });
    expect(await countEvents(host.store.db, 'federation.deployment.drifted')).toBe(1);
  });

  it('reports an instance running another digest since its assignment as drifted', async () => {
    us.clock.advance(1_000);
    for (const a of agents.get(us)!) {
      await heartbeat(us.app.http!.url, a.agent_token, {
        running_module_digests: { nginx: digest('a') },
        health: 'ok',
      });
    }
    await host.app.reconciler.tickOnce();
    const d = await get();
    expect(d.overall).toBe('drifted');
    expect(d.byPeer['peer-us']).toMatchObject({ assigned: 1, running_healthy: 0, drifted: 1, state: 'drifted' });
    const events = await host.store.db
      .selectFrom('events')
      .select('payload')
      .where('kind', '=', 'federation.deployment.drifted')
      .orderBy('id')
      .execute();
    expect(events).toHaveLength(2);
    expect(events[1]!.payload).toMatchObject({
      peer_name: 'peer-us',
      reasons: ["1 instance(s) on peer-us no longer run the deployment's version"],
    });
    await agentsRunNginx(us);
    await host.app.reconciler.tickOnce();
    expect((await get()).overall).toBe('in_sync');
  });

  it('keeps a peer data residency keeps deployments from out of the shares, with the reason', async () => {
    await host.app.services.residency.set(ADMIN, 'peer-us', {
      resource_kinds: ['deployments'],
      constraint: 'must_not_leave_region',
      region: 'eu-west-1',
    });
    const before = await footprint();
    const onlyUs = await create({
      name: 'us-only',
      replicas: 1,
      peers: ['peer-us'],
      placement: { strategy: 'weighted' },
    });
    expect(onlyUs.error?.code).toBe('conflict');
    expect(onlyUs.error?.message).toContain('peer-us: data residency keeps deployments in eu-west-1');
    expect(await footprint()).toEqual(before);

    // Placement counts eu's capacity for nginx as what web-nginx does not hold there: 4 online, 3 held.
    const planned = await call(viewer, 'plan_placement', {
      module_name: 'nginx',
      version: '1.26.0',
      replicas: 2,
      group: 'web',
      peers: ['peer-eu'],
      placement: { strategy: 'weighted' },
    });
    expect(planned.data).toMatchObject({ feasible: false, unplaced: 1 });
    expect(planned.data.peers).toEqual([
      expect.objectContaining({ name: 'peer-eu', group: 'web', capacity: 1, held_by_other_deployments: 3 }),
    ]);
    const tooMany = await create({ name: 'eu-mostly', replicas: 2, placement: { strategy: 'weighted' } });
    expect(tooMany.error?.code).toBe('conflict');
    expect(await footprint()).toEqual(before);

    const both = await create({ name: 'eu-mostly', replicas: 1, placement: { strategy: 'weighted' } });
    expect(both.isError).toBe(false);
    euMostly = (both.data.federated_deployment as { federated_deployment_id: string }).federated_deployment_id;
    expect(both.data.excluded).toEqual([
      { peer_name: 'peer-us', reasons: ['data residency keeps deployments in eu-west-1 and it is in us-east-1'] },
    ]);
    const shares = (both.data.federated_deployment as { shares: ShareView[] }).shares;
    expect(shares.map((s) => [s.peer_name, s.desired])).toEqual([['peer-eu', 1]]);
    await host.app.services.residency.set(ADMIN, 'peer-us', null);
  });

  it('assigns the local share directly, and marks a share its peer refuses failed (degraded)', async () => {
    // eu's four instances are held for nginx (web-nginx 3, eu-mostly 1): no capacity left there for mixed.
    const res = await create({
      name: 'mixed',
      replicas: 2,
      include_local: true,
      placement: { strategy: 'weighted', weights: { host: 1, 'peer-eu': 1, 'peer-us': 1 } },
      overrides: { 'peer-us': { version: '1.24.0' } },
    });
    expect(res.isError).toBe(false);
    const id = (res.data.federated_deployment as { federated_deployment_id: string }).federated_deployment_id;
    expect(await desired(host, '1.26.0')).toHaveLength(1);
    let d = await get(id);
    expect(d.shares.map((s) => [s.peer_name, s.desired, s.state])).toEqual([
      ['host', 1, 'progressing'],
      ['peer-us', 1, 'pending'],
    ]);
    await host.app.services.federation.calls.deliverDue(host.clock.now());
    d = await get(id);
    // us has no 1.24.0 and refuses.
    expect(d.byPeer['peer-us']).toMatchObject({ state: 'failed', last_error: expect.stringContaining('1.24.0') });
    expect(d.byPeer['peer-us']!.propagated_at).toBeNull();
    const refused = await host.store.db
      .selectFrom('events')
      .select('payload')
      .where('kind', '=', 'federation.deployment.share_refused')
      .execute();
    expect(refused.map((e) => e.payload)).toEqual([
      expect.objectContaining({ name: 'mixed', peer_name: 'peer-us', error: expect.stringContaining('1.24.0') }),
    ]);
    expect(d.overall).toBe('degraded');
    expect(await claims(eu)).toEqual({ 'web-nginx': 3, 'eu-mostly': 1 });

    // Deleting eu-mostly tells eu to forget its claim (the instance keeps 1.26.0) ...
    const deleted = await call(admin, 'delete_federated_deployment', { federated_deployment_id: 'eu-mostly' });
    expect(deleted.isError).toBe(false);
    expect((await get(euMostly)).byPeer['peer-eu']).toMatchObject({ desired: 1, assigned: 1 });
    expect(await host.app.services.federation.calls.deliverDue(host.clock.now())).toBe(1);
    expect(await claims(eu)).toEqual({ 'web-nginx': 3 });
    expect(await desired(eu, '1.26.0')).toHaveLength(4);
    expect(await countEvents(eu.store.db, 'federation.deployment.share_forgotten')).toBe(1);

    // ... so mixed, scaled up, gets a share there and takes that instance over as it is: no rolling upgrade.
    const scaled = await call(admin, 'update_federated_deployment', { federated_deployment_id: 'mixed', replicas: 3 });
    expect(scaled.isError).toBe(false);
    const rolloutsOnEu = await eu.store.db.selectFrom('rollouts').select('id').execute();
    await host.app.services.federation.calls.deliverDue(host.clock.now());
    expect(await claims(eu)).toEqual({ 'web-nginx': 3, mixed: 1 });
    expect(await eu.store.db.selectFrom('rollouts').select('id').execute()).toEqual(rolloutsOnEu);
    await agentsRunNginx(host);
    await host.app.reconciler.tickOnce();
    d = await get(id);
    expect(d.byPeer['peer-eu']).toMatchObject({ desired: 1, assigned: 1, running_healthy: 1, state: 'in_sync' });
    expect(d.byPeer.host).toMatchObject({ assigned: 1, running_healthy: 1, state: 'in_sync' });
    expect(d.byPeer['peer-us']!.state).toBe('failed');
    expect(await desired(us, '1.24.0')).toEqual([]);
  });

  it('updates a deployment: a smaller share gives instances back there; the same update writes nothing', async () => {
    const outbox = async () =>
      Number(
        (
          await host.store.db
            .selectFrom('federation_outbox')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const asViewer = await call(viewer, 'update_federated_deployment', {
      federated_deployment_id: 'web-nginx',
      replicas: 2,
    });
    expect(asViewer.error?.code).toBe('forbidden');
    const tooMany = await call(admin, 'update_federated_deployment', {
      federated_deployment_id: 'web-nginx',
      replicas: 100,
      placement: { strategy: 'resource_based' },
    });
    expect(tooMany.error?.code).toBe('conflict');
    expect((await get()).byPeer['peer-eu']).toMatchObject({ desired: 3, planned: 3 });

    const updatesBefore = await countEvents(host.store.db, 'federation.deployment.updated');
    const res = await call(admin, 'update_federated_deployment', {
      federated_deployment_id: 'web-nginx',
      replicas: 2,
      placement: { strategy: 'weighted' },
    });
    expect(res.isError).toBe(false);
    expect(res.data.changed).toBe(true);
    // Only eu's share changed (3 → 1); us keeps its 1, so it is not sent again.
    expect(await host.app.services.federation.calls.deliverDue(host.clock.now())).toBe(1);
    // eu gave back two of web-nginx's three; mixed's instance there is not web-nginx's to give.
    expect(await claims(eu)).toEqual({ 'web-nginx': 1, mixed: 1 });
    expect(await desired(eu, '1.26.0')).toHaveLength(2);
    expect(await desired(us, '1.26.0')).toHaveLength(1);
    const d = await get();
    expect(d.byPeer['peer-eu']).toMatchObject({ desired: 1, planned: 1, assigned: 1 });
    expect(d.byPeer['peer-us']).toMatchObject({ desired: 1, planned: 1, assigned: 1 });
    expect(await countEvents(host.store.db, 'federation.deployment.updated')).toBe(updatesBefore + 1);

    const before = {
      outbox: await outbox(),
      events: await countEvents(host.store.db, 'federation.deployment.updated'),
    };
    const same = await call(admin, 'update_federated_deployment', {
      federated_deployment_id: 'web-nginx',
      replicas: 2,
      placement: { strategy: 'weighted' },
    });
    expect(same.data.changed).toBe(false);
    expect({
      outbox: await outbox(),
      events: await countEvents(host.store.db, 'federation.deployment.updated'),
    }).toEqual(before);
  });

  it('deletes a deployment: no longer reconciled, its claims forgotten there, what runs left in place', async () => {
    const res = await call(admin, 'delete_federated_deployment', { federated_deployment_id: deploymentId });
    expect(res.isError).toBe(false);
    expect(res.data.federated_deployment).toMatchObject({ state: 'deleted' });
    const before = (await get()).byPeer['peer-eu']!.last_contact_at;
    host.clock.advance(5_000);
    await host.app.reconciler.tickOnce();
    expect((await get()).byPeer['peer-eu']!.last_contact_at).toBe(before);
    // Its platforms forget its claims (through the outbox); what the instances run stays.
    await host.app.services.federation.calls.deliverDue(host.clock.now());
    expect(await claims(eu)).toEqual({ mixed: 1 });
    expect(await claims(us)).toEqual({});
    const forgot = await eu.store.db
      .selectFrom('peer_audit_log')
      .select(['actor', 'payload'])
      .where('action', '=', 'federated_deployment.forget')
      .orderBy('at')
      .execute();
    expect(forgot.map((r) => r.payload)).toEqual([
      expect.objectContaining({ name: 'eu-mostly', forgotten: 1 }),
      expect.objectContaining({ name: 'web-nginx', forgotten: 1 }),
    ]);
    expect(forgot.every((r) => r.actor.endsWith(`/${ADMIN.name}`))).toBe(true);
    expect(await desired(eu, '1.26.0')).toHaveLength(2);
    expect(await desired(us, '1.26.0')).toHaveLength(1);
    const again = await call(admin, 'delete_federated_deployment', { federated_deployment_id: deploymentId });
    expect(again.error?.code).toBe('conflict');
  });
});
