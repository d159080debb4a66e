// A federated deployment over three real platform processes (real clocks, simulated agents): a weighted
// deployment lands half on each peer, moving instances off their old version by a rolling upgrade there.
// One peer is killed with SIGKILL mid-reconciliation: once it is lost its share is placed on the other peer
// (failover, audited), and when it is restarted on the same port and store the planned shares come back
// (failback, audited) and the peer that covered gives the extra instances back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { restartServed } from '../helpers/cli.js';
import {
  bindServed,
  federate,
  prepareFleet,
  ServedFederation,
  servedDigest as digest,
  tool,
  waitForServed as waitFor,
  type Obj,
  type ServedSite as Platform,
} from '../helpers/served-federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const AGENTS = 5;

describe.each(STORE_KINDS)('a federated deployment failing over and back on %s', (kind) => {
  let sites: ServedFederation;

  beforeAll(() => {
    sites = new ServedFederation(kind, 'flotilla-feddep-failover-');
  });
  afterEach(() => sites.stopAll());
  afterAll(() => sites.dispose());

  /** Instances of `p` whose agent reports nginx 1.26.0. */
  const running126 = async (p: Platform): Promise<number> => {
    const listed = await tool(p, 'list_instances', { group: 'web', limit: 100 });
    return (listed.instances as Obj[]).filter((i) => i.running_module_digests?.nginx === digest('b')).length;
  };

  it('moves a lost peer’s share to the other peer and back when it returns', async () => {
    const hq = await sites.start('hq', 'eu-west-1');
    const eu = await sites.start('eu', 'eu-west-1');
    const us = await sites.start('us', 'us-east-1');
    for (const target of [eu, us]) await federate(hq, target);
    for (const target of [eu, us]) await bindServed(target, 'hq', 'admin');
    await tool(hq, 'publish_module_version', { module_name: 'nginx', version: '1.26.0', digest: digest('b') });
    for (const p of [eu, us]) await prepareFleet(p, AGENTS);
    // The peers' heartbeats carry their capacity (online instances of web): wait until hq knows both.
    await waitFor('both peers to report their capacity', async () => {
      const plan = await tool(hq, 'plan_placement', {
        module_name: 'nginx',
        version: '1.26.0',
        replicas: 4,
        group: 'web',
        peers: ['eu', 'us'],
        placement: { strategy: 'weighted' },
      });
      return (plan.peers as Obj[]).every((p) => p.capacity === AGENTS);
    });

    const created = await tool(hq, 'create_federated_deployment', {
      name: 'web-nginx',
      module_name: 'nginx',
      version: '1.26.0',
      replicas: 4,
      group: 'web',
      peers: ['eu', 'us'],
      placement: { strategy: 'weighted' },
      rollout: { strategy: { type: 'batch', batch_pct: 50 }, health_timeout_sec: 30 },
    });
    const id = created.federated_deployment.federated_deployment_id as string;
    const view = async (): Promise<Obj> =>
      (await tool(hq, 'get_federated_deployment', { federated_deployment_id: id })).federated_deployment as Obj;
    const share = (v: Obj, peer: string): Obj => (v.shares as Obj[]).find((s) => s.peer_name === peer)!;

    // Both peers upgrade two instances each from 1.24.0, by a rolling upgrade scoped to them.
    await waitFor('the deployment to be in sync', async () => (await view()).overall === 'in_sync');
    expect([await running126(eu), await running126(us)]).toEqual([2, 2]);
    // The share is in sync once its instances run the version healthy; eu's rollout completes on its next
    // health judgement, a tick or so later.
    const euRollouts = await waitFor('eu’s scoped rollout to complete', async () => {
      const listed = (await tool(eu, 'list_rollouts', {})).rollouts as Obj[];
      return listed.length === 1 && listed[0]!.state === 'completed' && listed;
    });
    expect(euRollouts[0]).toMatchObject({ state: 'completed', scope: 'instances' });

    await us.client.close();
    await us.child.stop('SIGKILL');
    const failed = await waitFor('us’s share to fail over to eu', async () => {
      const v = await view();
      return share(v, 'us').state === 'failed_over' && share(v, 'eu').desired === 4 && v;
    });
    expect(share(failed, 'us')).toMatchObject({ desired: 0, planned: 2 });
    await waitFor('eu to run all four', async () => {
      const v = await view();
      return v.overall === 'in_sync' && share(v, 'eu').running_healthy === 4;
    });
    expect(await running126(eu)).toBe(4);
    const failovers = (await tool(hq, 'recent_events', { kind_prefix: 'federation.deployment.failover' }))
      .events as Obj[];
    expect(failovers).toHaveLength(1);
    expect(failovers[0]!.payload).toMatchObject({ from: { eu: 2, us: 2 }, to: { eu: 4, us: 0 } });
    for (const peer of ['eu', 'us']) {
      const log = (await tool(hq, 'get_audit_log', { federation_peer_id: peer, limit: 500 })).entries as Obj[];
      expect(log.map((e) => e.action)).toContain('federated_deployment.failover');
    }

    await restartServed(sites.children, us);
    await waitFor('the planned shares to come back', async () => {
      const v = await view();
      return (
        v.overall === 'in_sync' &&
        share(v, 'us').desired === 2 &&
        share(v, 'us').state === 'in_sync' &&
        share(v, 'eu').desired === 2 &&
        share(v, 'eu').assigned === 2
      );
    });
    await waitFor('eu to give two instances back', async () => (await running126(eu)) === 2);
    const failbacks = (await tool(hq, 'recent_events', { kind_prefix: 'federation.deployment.failback' }))
      .events as Obj[];
    expect(failbacks).toHaveLength(1);
    expect(failbacks[0]!.payload).toMatchObject({ from: { eu: 4, us: 0 }, to: { eu: 2, us: 2 } });
    const euLog = (await tool(hq, 'get_audit_log', { federation_peer_id: 'eu', limit: 500 })).entries as Obj[];
    expect(euLog.map((e) => e.action)).toContain('federated_deployment.failback');
    await waitFor('us to run its two again', async () => (await running126(us)) === 2);
    // Nothing moved twice on us: its instances kept 1.26.0 while it was away, so no second upgrade ran.
    const usRollouts = (await tool(us, 'list_rollouts', {})).rollouts as Obj[];
    expect(usRollouts).toHaveLength(1);
  }, 600_000);
});
