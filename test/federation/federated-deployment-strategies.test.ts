// Each placement strategy end to end over four real platforms on loopback HTTP: a host and three peers in
// different regions, with different capacities (online instances of `web`, told in heartbeats) and costs
// per instance. create_federated_deployment (an admin's MCP client) must produce the shares worked out by
// hand below; each share goes to its peer through the outbox (deployments.assign), lands there on that
// many instances and shows in get_federated_deployment. Data residency and a lost peer each exclude one
// the strategy would favour. Every case deploys its own module, so no case claims another's instances.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, heartbeatRound } from '../helpers/federation.js';
import { digest, enrollInstances, instancesAssigned } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const HEARTBEAT_MS = 15_000;
const VERSION = '1.0.0';
/** One module per case (published on every platform), so no case claims another's instances. */
const MODULES = {
  weighted: 'svc-weighted',
  geo: 'svc-geo',
  resource: 'svc-resource',
  cost: 'svc-cost',
  residency: 'svc-residency',
  lost: 'svc-lost',
} as const;

// The setup every hand computation below starts from:
//   platform   name on host   region           online web instances   cost per instance
//   host       host           eu-west-1        2                      3
//   eu         peer-eu        eu-central-1     8                      2
//   us         peer-us        us-east-1        4                      0.5
//   ap         peer-ap        ap-southeast-1   2                      1
const SETUP = {
  host: { region: 'eu-west-1', instances: 2, cost: 3 },
  eu: { region: 'eu-central-1', instances: 8, cost: 2 },
  us: { region: 'us-east-1', instances: 4, cost: 0.5 },
  ap: { region: 'ap-southeast-1', instances: 2, cost: 1 },
} as const;
const PEERS = ['peer-eu', 'peer-us', 'peer-ap'];

interface ShareView {
  peer_name: string;
  local: boolean;
  desired: number;
  planned: number;
  assigned: number | null;
  state: string;
}

describe.each(STORE_KINDS)('federated deployment strategies over four real platforms on %s', (kind) => {
  let host: TestPlatform;
  let eu: TestPlatform;
  let us: TestPlatform;
  let ap: TestPlatform;
  let admin: Client;
  let viewer: Client;

  const platforms = (): TestPlatform[] => [host, eu, us, ap];
  /** Each platform by the name the host gives it in a deployment's shares. */
  const byShareName = (): Record<string, TestPlatform> => ({ host, 'peer-eu': eu, 'peer-us': us, 'peer-ap': ap });

  /** Creates deployment `name` of module `name` as the admin, fails unless accepted: its id, shares, exclusions. */
  const deploy = async (name: string, args: Record<string, unknown>) => {
    const res = await call(admin, 'create_federated_deployment', {
      name,
      module_name: name,
      version: VERSION,
      group: 'web',
      peers: PEERS,
      ...args,
    });
    expect(res.error).toBeUndefined();
    const d = res.data.federated_deployment as { federated_deployment_id: string; shares: ShareView[] };
    return {
      id: d.federated_deployment_id,
      shares: Object.fromEntries(d.shares.map((s) => [s.peer_name, s.desired])),
      excluded: res.data.excluded as Array<{ peer_name: string; reasons: string[] }>,
    };
  };
  /** The deployments.assign calls the host queued for deployment `id`: replicas and delivery state by peer. */
  const assignsSent = async (id: string): Promise<Record<string, { replicas: unknown; status: string }>> => {
    const rows = await host.store.db
      .selectFrom('federation_outbox as o')
      .innerJoin('federation_peers as p', 'p.id', 'o.federation_peer_id')
      .select(['p.name', 'o.args', 'o.status'])
      .where('o.operation', '=', 'deployments.assign')
      .execute();
    return Object.fromEntries(
      rows
        .filter((r) => r.args.federated_deployment_id === id)
        .map((r) => [r.name, { replicas: r.args.replicas, status: r.status }]),
    );
  };
  /** Delivers what the outbox holds due (the shares' deployments.assign calls) over loopback HTTP. */
  const deliverShares = async (): Promise<void> => {
    await host.app.services.federation.calls.deliverDue(host.clock.now());
  };

  /**
   * Checks that `expected` (every platform's share, 0 where it gets none) is what the host queued, what
   * each peer assigned in its own store, and what get_federated_deployment shows.
   */
  const expectLanded = async (id: string, moduleName: string, expected: Record<string, number>): Promise<void> => {
    const nonZero = Object.fromEntries(Object.entries(expected).filter(([, n]) => n > 0));
    const peerShares = Object.fromEntries(Object.entries(nonZero).filter(([name]) => name !== 'host'));
    // Through the outbox, one delivered deployments.assign per peer with a share; none for the others.
    expect(await assignsSent(id)).toEqual(
      Object.fromEntries(Object.entries(peerShares).map(([peer, n]) => [peer, { replicas: n, status: 'delivered' }])),
    );
    // On each platform's own store: that many instances of web assigned the version.
    const assigned: Record<string, number> = {};
    for (const [name, p] of Object.entries(byShareName())) {
      assigned[name] = (await instancesAssigned(p.store.db, moduleName, VERSION)).length;
    }
    expect(assigned).toEqual({ host: 0, 'peer-eu': 0, 'peer-us': 0, 'peer-ap': 0, ...expected });
    // As the host reports it: each share's desired (and planned) is its placement, all of it assigned.
    const res = await call(viewer, 'get_federated_deployment', { federated_deployment_id: id });
    expect(res.error).toBeUndefined();
    const shares = (res.data.federated_deployment as { shares: ShareView[] }).shares;
    expect(Object.fromEntries(shares.map((s) => [s.peer_name, [s.desired, s.planned, s.assigned, s.local]]))).toEqual(
      Object.fromEntries(Object.entries(nonZero).map(([name, n]) => [name, [n, n, n, name === 'host']])),
    );
  };

  beforeAll(async () => {
    const start = (name: keyof typeof SETUP): Promise<TestPlatform> =>
      startTestPlatform(kind, {}, { name, region: SETUP[name].region, costPerInstance: SETUP[name].cost });
    [host, eu, us, ap] = [await start('host'), await start('eu'), await start('us'), await start('ap')];
    await federatePair(host, eu, { name: 'peer-eu' });
    await federatePair(host, us, { name: 'peer-us' });
    await federatePair(host, ap, { name: 'peer-ap' });
    for (const peer of [eu, us, ap]) await bindPeerOperator(peer, 'host', 'admin');
    admin = await host.memoryClient();
    viewer = await host.memoryClient(await host.operator('vera', 'viewer'));
    for (const p of platforms()) {
      const client = await p.memoryClient();
      for (const [i, moduleName] of Object.values(MODULES).entries()) {
        const published = await call(client, 'publish_module_version', {
          module_name: moduleName,
          version: VERSION,
          digest: digest(String(i)),
        });
        expect(published.error).toBeUndefined();
      }
    }
    for (const [p, n] of [
      [host, SETUP.host.instances],
      [eu, SETUP.eu.instances],
      [us, SETUP.us.instances],
      [ap, SETUP.ap.instances],
    ] as const) {
      await enrollInstances(p, 'web', n);
    }
    // Every platform heartbeats its peers once: the host learns each peer's capacity and cost.
    await heartbeatRound(platforms(), HEARTBEAT_MS);
  });
  afterAll(async () => {
    for (const p of [host, eu, us, ap]) await p?.close();
  });

  it('knows each peer’s region from the handshake and its capacity and cost from its heartbeats', async () => {
    const rows = await host.store.db
      .selectFrom('federation_peers')
      .select(['name', 'region', 'status', 'reported_capacity', 'reported_cost_per_instance'])
      .orderBy('name')
      .execute();
    expect(
      rows.map((r) => [r.name, r.region, r.status, r.reported_capacity, Number(r.reported_cost_per_instance)]),
    ).toEqual([
      ['peer-ap', 'ap-southeast-1', 'active', { web: 2 }, 1],
      ['peer-eu', 'eu-central-1', 'active', { web: 8 }, 2],
      ['peer-us', 'us-east-1', 'active', { web: 4 }, 0.5],
    ]);
  });

  it('weighted: splits by weight after the minimums, each share within its max and capacity', async () => {
    const d = await deploy(MODULES.weighted, {
      replicas: 9,
      placement: {
        strategy: 'weighted',
        weights: { 'peer-eu': 4, 'peer-us': 1, 'peer-ap': 1 },
        min: { 'peer-ap': 2 },
        max: { 'peer-eu': 5 },
      },
    });
    // By weight alone 9 would split 6 / 1.5 / 1.5. ap's min of 2 is placed first (ap is then full: 2 online).
    // The other 7 go 4:1 to eu and us: eu's 5.6 is capped at its max of 5, and the last 2 go to us (room 4).
    const expected = { 'peer-eu': 5, 'peer-us': 2, 'peer-ap': 2 };
    expect(d.shares).toEqual(expected);
    expect(d.excluded).toEqual([]);
    await deliverShares();
    await expectLanded(d.id, MODULES.weighted, expected);
  });

  it('geo_affinity: fills the preferred regions in order, each up to its capacity, then the rest', async () => {
    const d = await deploy(MODULES.geo, {
      replicas: 9,
      placement: { strategy: 'geo_affinity', regions: ['ap', 'us-east-1'] },
    });
    // ap-southeast-1 is inside the first preferred region, "ap": ap takes all it can, 2. us-east-1 comes
    // next: us takes its 4. eu-central-1 is in neither, so eu is filled last with the remaining 3.
    const expected = { 'peer-ap': 2, 'peer-us': 4, 'peer-eu': 3 };
    expect(d.shares).toEqual(expected);
    await deliverShares();
    await expectLanded(d.id, MODULES.geo, expected);
  });

  it('resource_based with include_local: shares follow capacity, this platform included', async () => {
    const d = await deploy(MODULES.resource, {
      replicas: 8,
      include_local: true,
      placement: { strategy: 'resource_based' },
    });
    // Capacities host 2, eu 8, us 4, ap 2: 16 in all, and 8 replicas are half of it, so each platform gets
    // half its capacity: host 1 (assigned on the host directly, no outbox), eu 4, us 2, ap 1.
    const expected = { host: 1, 'peer-eu': 4, 'peer-us': 2, 'peer-ap': 1 };
    expect(d.shares).toEqual(expected);
    expect(await instancesAssigned(host.store.db, MODULES.resource, VERSION)).toHaveLength(1);
    await deliverShares();
    await expectLanded(d.id, MODULES.resource, expected);
  });

  it('cost_optimized: fills the cheapest peers first, each up to its capacity', async () => {
    const d = await deploy(MODULES.cost, { replicas: 7, placement: { strategy: 'cost_optimized' } });
    // Cheapest first: us at 0.5 takes its 4, ap at 1 its 2, and eu at 2 the last 1.
    const expected = { 'peer-us': 4, 'peer-ap': 2, 'peer-eu': 1 };
    expect(d.shares).toEqual(expected);
    await deliverShares();
    await expectLanded(d.id, MODULES.cost, expected);
  });

  it('gives nothing to a peer data residency keeps deployments from, though geo_affinity prefers it', async () => {
    const set = await call(admin, 'set_data_residency', {
      federation_peer_id: 'peer-ap',
      policy: { resource_kinds: ['deployments'], constraint: 'must_not_leave_region', region: 'eu' },
    });
    expect(set.error).toBeUndefined();
    const d = await deploy(MODULES.residency, {
      replicas: 6,
      placement: { strategy: 'geo_affinity', regions: ['ap', 'us-east-1'] },
    });
    // Without the policy ap (first preferred region) would take 2 and us 4. ap may not receive deployments
    // outside eu, so it is out: us (next preferred) takes its 4 and eu the remaining 2.
    const expected = { 'peer-us': 4, 'peer-eu': 2, 'peer-ap': 0 };
    expect(d.shares).toEqual({ 'peer-us': 4, 'peer-eu': 2 });
    expect(d.excluded).toEqual([
      { peer_name: 'peer-ap', reasons: ['data residency keeps deployments in eu and it is in ap-southeast-1'] },
    ]);
    await deliverShares();
    await expectLanded(d.id, MODULES.residency, expected);
    const cleared = await call(admin, 'set_data_residency', { federation_peer_id: 'peer-ap', policy: null });
    expect(cleared.error).toBeUndefined();
  });

  it('gives nothing to a peer that is not active, though cost_optimized prefers it', async () => {
    // Three heartbeat intervals in which only eu and ap heartbeat the host: it loses contact with us.
    for (let i = 0; i < 3; i += 1) {
      for (const p of platforms()) p.clock.advance(HEARTBEAT_MS);
      for (const p of [eu, ap]) await p.app.services.federation.heartbeats.sendDue(p.clock.now());
    }
    for (const p of platforms()) p.clock.advance(1);
    const lost = await host.app.services.federation.heartbeats.sweepStale(host.clock.now());
    expect(lost.map((p) => p.name)).toEqual(['peer-us']);

    const d = await deploy(MODULES.lost, { replicas: 5, placement: { strategy: 'cost_optimized' } });
    // Without the lost peer us (0.5, the cheapest) would take 4 and ap 1. With us out: ap at 1 takes its 2,
    // eu at 2 the other 3.
    const expected = { 'peer-ap': 2, 'peer-eu': 3, 'peer-us': 0 };
    expect(d.shares).toEqual({ 'peer-ap': 2, 'peer-eu': 3 });
    expect(d.excluded).toEqual([
      { peer_name: 'peer-us', reasons: ['federation peer peer-us is lost_contact, not active'] },
    ]);
    await deliverShares();
    await expectLanded(d.id, MODULES.lost, expected);
  });
});
