// The rebalancer in one process over real HTTP: after a deployment's shares were propagated and reported
// (each an UPDATE, so the rows no longer come back in the order they were written), a member marked lost is
// failed over on the next tick, and the move is recorded once. Time moves only with the clocks.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, heartbeatRound } from '../helpers/federation.js';
import { countEvents, digest, enrollInstances } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('federated deployment rebalancing on %s', (kind) => {
  let host: TestPlatform;
  let eu: TestPlatform;
  let us: TestPlatform;
  let admin: Client;

  beforeAll(async () => {
    host = await startTestPlatform(kind, {}, { name: 'host' });
    eu = await startTestPlatform(kind, {}, { name: 'eu' });
    us = await startTestPlatform(kind, {}, { name: 'us' });
    await federatePair(host, eu, { name: 'eu' });
    await federatePair(host, us, { name: 'us' });
    for (const peer of [eu, us]) await bindPeerOperator(peer, 'host', 'admin');
    for (const p of [host, eu, us]) {
      const published = await call(await p.memoryClient(), 'publish_module_version', {
        module_name: 'nginx',
        version: '1.26.0',
        digest: digest('b'),
      });
      expect(published.isError).toBe(false);
    }
    await enrollInstances(eu, 'web', 5);
    await enrollInstances(us, 'web', 5);
    await heartbeatRound([host, eu, us], 15_000);
    admin = await host.memoryClient();
  });
  afterAll(async () => {
    for (const p of [host, eu, us]) await p?.close();
  });

  const shares = async (): Promise<[string, string, number][]> => {
    const res = await call(admin, 'get_federated_deployment', { federated_deployment_id: 'web-nginx' });
    const d = res.data.federated_deployment as { shares: { peer_name: string; state: string; desired: number }[] };
    return d.shares.map((s) => [s.peer_name, s.state, s.desired]);
  };

  it('fails a lost member’s share over on the next tick, once', async () => {
    const res = await call(admin, 'create_federated_deployment', {
      name: 'web-nginx',
      module_name: 'nginx',
      version: '1.26.0',
      replicas: 4,
      group: 'web',
      peers: ['eu', 'us'],
      placement: { strategy: 'weighted' },
    });
    expect(res.isError).toBe(false);
    expect(await host.app.services.federation.calls.deliverDue(host.clock.now())).toBe(2);
    await host.app.reconciler.tickOnce();
    expect(await shares()).toEqual([
      ['eu', 'progressing', 2],
      ['us', 'progressing', 2],
    ]);

    await host.store.db
      .updateTable('federation_peers')
      .set({ status: 'lost_contact' })
      .where('name', '=', 'us')
      .execute();
    await host.app.reconciler.tickOnce();
    expect(await shares()).toEqual([
      ['eu', 'progressing', 4],
      ['us', 'failed_over', 0],
    ]);
    await host.app.reconciler.tickOnce();
    expect(await countEvents(host.store.db, 'federation.deployment.failover')).toBe(1);
  });
});
