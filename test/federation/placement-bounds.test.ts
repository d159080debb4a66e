// Placement inputs are bounded, over two real platforms on loopback HTTP: a weight of 1e308 (which once
// made a 3-replica plan place 6, unplaced -3, feasible) is refused as invalid_input by plan_placement,
// create_federated_deployment and a manifest's federated deployment, writing nothing; the largest weight
// allowed places exactly; and a peer heartbeat reporting a capacity or cost above the bounds is refused,
// leaving the capacity the peer reported before.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CAPACITY, MAX_WEIGHT } from '../../src/domain/placement.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, heartbeatRound } from '../helpers/federation.js';
import { digest, enrollInstances } from '../helpers/fleet.js';

const HEARTBEAT_MS = 15_000;
const HUGE = { 'peer-eu': 1e308, host: 1e308 };

describe('placement bounds', () => {
  let host: TestPlatform;
  let eu: TestPlatform;
  let admin: Client;
  let viewer: Client;

  const target = { module_name: 'nginx', version: '1.26.0', group: 'web', peers: ['peer-eu'], include_local: true };
  const deployments = async (): Promise<number> =>
    Number(
      (
        await host.store.db
          .selectFrom('federated_deployments')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const reported = async () =>
    host.store.db
      .selectFrom('federation_peers')
      .select(['name', 'reported_capacity', 'reported_cost_per_instance'])
      .orderBy('name')
      .execute();

  beforeAll(async () => {
    host = await startTestPlatform('pglite', {}, { name: 'host', region: 'eu-west-1' });
    eu = await startTestPlatform('pglite', {}, { name: 'eu', region: 'eu-west-1', costPerInstance: 0.5 });
    await federatePair(host, eu, { name: 'peer-eu' });
    admin = await host.memoryClient();
    viewer = await host.memoryClient(await host.operator('vera', 'viewer'));
    const published = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.26.0',
      digest: digest('b'),
    });
    expect(published.isError).toBe(false);
    await enrollInstances(eu, 'web', 3);
    await enrollInstances(host, 'web', 3);
  });
  afterAll(async () => {
    for (const p of [host, eu]) await p?.close();
  });

  it('refuses a weight of 1e308 in plan_placement, create_federated_deployment and a manifest', async () => {
    const placement = { strategy: 'weighted', weights: HUGE };
    const planned = await call(viewer, 'plan_placement', { ...target, replicas: 3, placement });
    expect(planned.error?.code).toBe('invalid_input');
    expect(planned.error?.message).toContain('weight is at most 1,000,000; weights are relative, scale them down');

    const created = await call(admin, 'create_federated_deployment', {
      ...target,
      name: 'web',
      replicas: 3,
      placement,
    });
    expect(created.error?.code).toBe('invalid_input');
    expect(created.error?.message).toContain('weight is at most 1,000,000');
    expect(await deployments()).toBe(0);

    const manifest = `apiVersion: flotilla/v1
kind: Fleet
federated_deployments:
  deployments:
    - name: web
      module_name: nginx
      version: 1.26.0
      replicas: 3
      group: web
      peers: [peer-eu]
      include_local: true
      placement: { strategy: weighted, weights: { peer-eu: 1e308, host: 1e308 } }
`;
    const applied = await call(admin, 'apply_manifest', { manifest });
    expect(applied.error?.code).toBe('invalid_input');
    expect(applied.error?.message).toContain(
      'federated_deployments.deployments[0].placement.weights.peer-eu: a weight is at most 1,000,000',
    );
    expect(await deployments()).toBe(0);
  });

  it('places exactly with the largest weight allowed', async () => {
    const placement = { strategy: 'weighted', weights: { 'peer-eu': MAX_WEIGHT, host: MAX_WEIGHT } };
    const planned = await call(viewer, 'plan_placement', { ...target, replicas: 3, placement });
    expect(planned.isError, JSON.stringify(planned.error)).toBe(false);
    expect(planned.data).toMatchObject({ feasible: true, unplaced: 0 });
    const shares = planned.data.shares as Array<{ name: string; replicas: number }>;
    expect(shares.map((s) => [s.name, s.replicas])).toEqual([
      ['host', 2],
      ['peer-eu', 1],
    ]);
  });

  it('refuses a peer heartbeat reporting capacity or cost above the bounds, keeping what was reported', async () => {
    await heartbeatRound([host, eu], HEARTBEAT_MS);
    const before = await reported();
    expect(before.map((r) => [r.name, r.reported_capacity, Number(r.reported_cost_per_instance)])).toEqual([
      ['peer-eu', { web: 3 }, 0.5],
    ]);
    const heartbeats = eu.app.services.federation.heartbeats;
    heartbeats.attachPlacementReport(async () => ({ capacity: { web: MAX_CAPACITY + 1 }, cost_per_instance: 0.5 }));
    await heartbeatRound([eu], HEARTBEAT_MS);
    expect(await reported()).toEqual(before);
    heartbeats.attachPlacementReport(async () => ({ capacity: { web: 3 }, cost_per_instance: 1e300 }));
    await heartbeatRound([eu], HEARTBEAT_MS);
    expect(await reported()).toEqual(before);
  });
});
