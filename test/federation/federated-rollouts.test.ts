// Federated rollouts across three real platforms over loopback HTTP (origin, east, west), each with
// simulated agents on a manual clock. The origin proposed both peerings; every platform has an admin
// `lead`, the operator the origin's requests act for. Each platform reaches the others through a TCP
// link the test can cut, so a peer can be lost and regained mid-rollout. Time moves only with the
// clocks and reconciler ticks; nothing sleeps.
import net from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLING_UPGRADE_ACTION } from '../../src/domain/approvals.js';
import type { Caller } from '../../src/domain/roles.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator } from '../helpers/federation.js';
import { countEvents } from '../helpers/fleet.js';
import { FleetScenario, makeCrew, randomDigest, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

/** A TCP link to a platform's listener that the test can cut (connections refused and reset) and restore. */
class Link {
  private readonly sockets = new Set<net.Socket>();
  private targetPort = 0;
  private cut = false;

  private constructor(private readonly server: net.Server) {}

  static async open(): Promise<Link> {
    const server = net.createServer();
    const link = new Link(server);
    server.on('connection', (socket) => link.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return link;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  to(port: number): void {
    this.targetPort = port;
  }

  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  up(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(socket: net.Socket): void {
    if (this.cut || this.targetPort === 0) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const s of [socket, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream);
    upstream.pipe(socket);
  }
}

interface Site {
  name: string;
  p: TestPlatform;
  crew: Crew;
  /** The admin every platform has: the origin's tool calls act as `lead`, and targets act for it by name. */
  lead: Caller;
  leadToken: string;
}

interface LegView {
  id: string;
  federation_peer_id: string | null;
  peer_name: string;
  group: string;
  state: string;
  rollout_id: string | null;
  current_batch: number;
  batch_count: number | null;
  completed_batches: number;
  healthy_total: number;
  failed_total: number;
  pending_approval_ids: string[];
  waiting_for: string | null;
  last_contact_at: string | null;
  lost_contact: boolean;
  last_error: string | null;
}

interface RolloutView {
  id: string;
  state: string;
  coordination: string;
  barrier_batch: number | null;
  reason: string | null;
  waiting: string[];
  legs: LegView[];
}

describe.each(STORE_KINDS)('federated rollouts across three platforms on %s', (kind) => {
  const links: Record<'toEast' | 'toWest' | 'eastToOrigin' | 'westToOrigin', Link> = {} as never;
  let origin: Site;
  let east: Site;
  let west: Site;
  let sites: Site[];
  let lead: Client;
  let peerIds: { east: string; west: string };

  async function site(name: string, publicUrl?: string): Promise<Site> {
    const p = await startTestPlatform(kind, {}, { name, ...(publicUrl === undefined ? {} : { publicUrl }) });
    const crew = await makeCrew(p);
    const leadToken = await p.operator('lead', 'admin');
    await p.app.services.policies.set(crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    return { name, p, crew, lead: await p.app.services.operators.callerByName('lead'), leadToken };
  }

  beforeAll(async () => {
    for (const k of ['toEast', 'toWest', 'eastToOrigin', 'westToOrigin'] as const) links[k] = await Link.open();
    origin = await site('origin');
    east = await site('east', links.toEast.url);
    west = await site('west', links.toWest.url);
    sites = [origin, east, west];
    links.toEast.to(east.p.app.http!.port);
    links.toWest.to(west.p.app.http!.port);
    links.eastToOrigin.to(origin.p.app.http!.port);
    links.westToOrigin.to(origin.p.app.http!.port);
    // The origin proposes both peerings (it is their parent); each peer reaches it through its own link.
    for (const [target, back] of [
      [east, links.eastToOrigin],
      [west, links.westToOrigin],
    ] as const) {
      const proposed = await origin.p.app.services.federation.propose(origin.crew.admin, {
        name: target.name,
        spawnMode: 'autonomous_peer',
      });
      await target.p.app.services.federation.acceptFromParent(target.crew.admin, {
        parentUrl: back.url,
        acceptanceToken: proposed.acceptanceToken,
      });
      await bindPeerOperator(target.p, 'origin', 'lead');
    }
    const resolve = (n: string) => origin.p.app.services.federation.resolve(n);
    peerIds = { east: (await resolve('east')).id, west: (await resolve('west')).id };
    expect((await resolve('east')).status).toBe('active');
    lead = await origin.p.memoryClient(origin.leadToken);
  }, 60_000);

  afterAll(async () => {
    for (const s of sites ?? []) await s.p.close();
    for (const l of Object.values(links)) await l?.close();
  });

  // ---- drivers ----------------------------------------------------------------------------------

  async function fleets(name: string, count: number, on: Site[] = sites): Promise<Map<Site, FleetScenario>> {
    const out = new Map<Site, FleetScenario>();
    for (const s of on) out.set(s, await FleetScenario.create(s.p, s.crew, name, count));
    return out;
  }

  async function tickAll(): Promise<void> {
    for (const s of sites) await tick(s.p);
  }

  /** Agents of every site (but `skip`) heartbeat and apply what they are told; then every platform ticks. */
  async function round(f: Map<Site, FleetScenario>, skip: Site[] = []): Promise<void> {
    for (const [s, fleet] of f) if (!skip.includes(s)) await fleet.beat();
    await tickAll();
  }

  async function view(id: string, client: Client = lead): Promise<RolloutView> {
    const res = await call(client, 'get_federated_rollout', { federated_rollout_id: id });
    expect(res.error).toBeUndefined();
    return res.data.federated_rollout as RolloutView;
  }

  const legOf = (v: RolloutView, peer: string): LegView => v.legs.find((l) => l.peer_name === peer)!;

  async function runUntil(
    id: string,
    f: Map<Site, FleetScenario>,
    done: (v: RolloutView) => boolean,
    skip: Site[] = [],
    maxRounds = 12,
  ): Promise<RolloutView> {
    for (let i = 0; i < maxRounds; i++) {
      const v = await view(id);
      if (done(v)) return v;
      await round(f, skip);
    }
    const last = await view(id);
    expect(done(last), JSON.stringify(last, null, 2)).toBe(true);
    return last;
  }

  async function create(args: Record<string, unknown>): Promise<RolloutView> {
    const res = await call(lead, 'create_federated_rollout', {
      target_version: '1.26.0',
      strategy: { type: 'batch', batch_pct: 50 },
      ...args,
    });
    expect(res.error).toBeUndefined();
    return res.data.federated_rollout as RolloutView;
  }

  async function control(id: string, args: Record<string, unknown>) {
    const res = await call(lead, 'control_federated_rollout', { federated_rollout_id: id, ...args });
    expect(res.error).toBeUndefined();
    return res.data as { federated_rollout: RolloutView; legs: Array<{ peer_name: string; outcome: string }> };
  }

  /** The rollout a site runs as its leg of federated rollout `id`. */
  async function legRollout(s: Site, id: string) {
    const row = await s.p.store.db
      .selectFrom('rollouts')
      .select('id')
      .where('federation_rollout_ref', '=', id)
      .executeTakeFirst();
    expect(row, `no leg of ${id} on ${s.name}`).toBeDefined();
    return (await s.p.app.services.rollouts.get(row!.id)).rollout;
  }

  async function batchesStarted(s: Site, id: string): Promise<number[]> {
    const r = await legRollout(s, id);
    return (await rolloutEvents(s.p, r.id, 'batch_started')).map((e) => Number(e.payload.batch_index));
  }

  async function peerAudit(s: Site, peerName: string): Promise<string[]> {
    const { page } = await s.p.app.services.federation.auditLog(peerName, { limit: 500 });
    return page.items.map((e) => e.action);
  }

  // ---- creating ---------------------------------------------------------------------------------

  it('refuses a rollout when a peer lacks the version, naming that peer, and writes nothing anywhere', async () => {
    await fleets('pre', 2, [origin, east]);
    // west has the module and the group, but not 1.26.0.
    await west.p.app.services.modules.publish(west.crew.admin, {
      moduleName: 'mod-pre',
      version: '1.24.0',
      digest: randomDigest(),
      draft: false,
    });
    const { token } = await west.p.app.services.fleet.createEnrollmentToken(west.crew.admin, {
      group: { groupName: 'group-pre' },
      ttlSec: 3600,
      region: null,
      labels: {},
    });
    await west.p.app.services.fleet.enroll(token, { name: 'pre-w-1' });
    const outboxBefore = await origin.p.store.db.selectFrom('federation_outbox').select('id').execute();

    const res = await call(lead, 'create_federated_rollout', {
      module_name: 'mod-pre',
      target_version: '1.26.0',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-pre',
    });
    expect(res.error?.code).toBe('conflict');
    expect(res.error?.message).toContain('west: version 1.26.0 of mod-pre is missing');
    expect(res.error?.message).not.toContain('east:');

    expect(await origin.p.store.db.selectFrom('federated_rollouts').selectAll().execute()).toEqual([]);
    expect(await origin.p.store.db.selectFrom('federation_outbox').select('id').execute()).toEqual(outboxBefore);
    expect(await countEvents(origin.p.store.db, 'federation.rollout_initiated')).toBe(0);
    for (const s of sites) {
      expect(await s.p.store.db.selectFrom('rollouts').select('id').execute(), s.name).toEqual([]);
    }
  });

  it('refuses unknown peers by the name given, duplicates, an empty target set, and non-admins', async () => {
    const base = { module_name: 'mod-pre', target_version: '1.26.0', group: 'group-pre' };
    const unknown = await call(lead, 'create_federated_rollout', { ...base, peers: ['east', 'far-away'] });
    expect(unknown.error?.code).toBe('not_found');
    expect(unknown.error?.message).toContain('far-away');
    const twice = await call(lead, 'create_federated_rollout', { ...base, peers: ['east', peerIds.east] });
    expect(twice.error?.code).toBe('invalid_input');
    const empty = await call(lead, 'create_federated_rollout', { ...base, peers: [] });
    expect(empty.error?.code).toBe('invalid_input');
    const otto = await origin.p.memoryClient(await origin.p.operator('otto', 'operator'));
    const denied = await call(otto, 'create_federated_rollout', { ...base, peers: ['east'] });
    expect(denied.error?.code).toBe('forbidden');
    expect(await origin.p.store.db.selectFrom('federated_rollouts').selectAll().execute()).toEqual([]);
  });

  // ---- running ----------------------------------------------------------------------------------

  it('runs an independent rollout to completion on every leg, this platform’s included', async () => {
    const f = await fleets('ind', 4);
    const created = await create({
      module_name: 'mod-ind',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-ind',
    });
    expect(created).toMatchObject({ state: 'running', coordination: 'independent', barrier_batch: null });
    expect(legOf(created, 'origin')).toMatchObject({ federation_peer_id: null, state: 'running', batch_count: 2 });
    expect(legOf(created, 'east')).toMatchObject({ federation_peer_id: peerIds.east, state: 'requested' });
    expect(await countEvents(origin.p.store.db, 'federation.rollout_initiated')).toBe(1);
    expect(await peerAudit(origin, 'east')).toContain('federated_rollout.start');

    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    for (const leg of done.legs) {
      expect(leg, leg.peer_name).toMatchObject({
        state: 'completed',
        batch_count: 2,
        completed_batches: 2,
        healthy_total: 4,
        failed_total: 0,
        lost_contact: false,
      });
    }
    // Each target keeps its own local rollout, linked to the federated one, and its own audit entry.
    for (const s of [east, west]) {
      const r = await legRollout(s, created.id);
      expect(r).toMatchObject({ state: 'completed', federationRolloutRef: created.id, requestedBy: 'lead' });
      expect(await peerAudit(s, 'origin')).toContain('federated_rollout.start');
    }
    expect(await countEvents(origin.p.store.db, 'federation.rollout.completed')).toBe(1);
    const listed = await call(lead, 'list_federated_rollouts', { state: 'completed' });
    expect((listed.data.federated_rollouts as Array<{ id: string; leg_states: unknown }>)[0]).toMatchObject({
      id: created.id,
      leg_states: { completed: 3 },
    });
    const late = await call(lead, 'control_federated_rollout', { federated_rollout_id: created.id, action: 'abort' });
    expect(late.error?.code).toBe('conflict');
  });

  it('synchronized: fast legs hold at the barrier until the slow one completes the batch, then all start the next at once', async () => {
    const f = await fleets('sync', 6);
    const created = await create({
      module_name: 'mod-sync',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-sync',
      coordination: 'synchronized',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    expect(created.barrier_batch).toBe(0);
    await tickAll(); // starts are delivered; every leg starts batch 0
    // west's agents stay silent: its batch 0 is in flight while the others complete theirs.
    await round(f, [west]);
    await round(f, [west]);
    const held = await view(created.id);
    expect(held.barrier_batch).toBe(0);
    expect(legOf(held, 'east')).toMatchObject({
      completed_batches: 1,
      waiting_for: 'barrier: waiting for west (batch 0)',
    });
    expect(legOf(held, 'origin').waiting_for).toBe('barrier: waiting for west (batch 0)');
    expect(held.waiting).toContain('barrier: waiting for west (batch 0)');
    expect(await batchesStarted(east, created.id)).toEqual([0]);
    expect(await batchesStarted(origin, created.id)).toEqual([0]);
    expect((await legRollout(east, created.id)).barrierBatch).toBe(0);

    // Only west heartbeats and ticks: its progress push raises the barrier, and every leg starts batch 1
    // before any other platform ticks again.
    await f.get(west)!.beat();
    await tick(west.p);
    expect(await batchesStarted(west, created.id)).toEqual([0, 1]);
    expect(await batchesStarted(east, created.id)).toEqual([0, 1]);
    expect(await batchesStarted(origin, created.id)).toEqual([0, 1]);
    expect((await view(created.id)).barrier_batch).toBe(1);

    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.legs.map((l) => l.completed_batches)).toEqual([3, 3, 3]);
  });

  it('keeps a push that lands while the origin’s status poll is out: the older poll answer does not move the leg back', async () => {
    const f = await fleets('stale-poll', 4);
    const created = await create({
      module_name: 'mod-stale-poll',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-stale-poll',
      coordination: 'synchronized',
    });
    await tickAll(); // every leg starts batch 0
    await f.get(east)!.beat(); // east's batch 0 is healthy; east has not ticked yet
    // The origin's next tick polls east while batch 0 is still in flight there; before the tick records the
    // answer, east ticks, completes batch 0 and pushes that to the origin (real calls both ways).
    const calls = origin.p.app.services.federation.calls;
    const request = calls.request.bind(calls);
    let pushedDuringPoll = false;
    calls.request = (async (peer, operation, args, opts) => {
      const answer = await request(peer, operation, args, opts);
      if (operation === 'rollouts.status' && peer.name === 'east' && !pushedDuringPoll) {
        pushedDuringPoll = true;
        origin.p.clock.advance(1);
        await tick(east.p);
      }
      return answer;
    }) as typeof calls.request;
    try {
      await tick(origin.p);
    } finally {
      calls.request = request;
    }
    expect(pushedDuringPoll).toBe(true);
    expect(legOf(await view(created.id), 'east')).toMatchObject({ completed_batches: 1 });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
  });

  it('takes a leg’s progress only from the peer running it, under its own rollout id', async () => {
    const [latest] = (await call(lead, 'list_federated_rollouts', { limit: 1 })).data.federated_rollouts as Array<{
      id: string;
    }>;
    const eastLeg = await legRollout(east, latest!.id);
    const fromWest = west.p.app.services.federation.calls.request(
      await west.p.app.services.federation.resolve('origin'),
      'rollouts.leg_progress',
      {
        federated_rollout_id: latest!.id,
        rollout_id: eastLeg.id,
        state: 'failed',
        current_batch: 0,
        batch_count: 3,
        completed_batches: 0,
        healthy_total: 0,
        failed_total: 6,
        pending_approval_ids: [],
        barrier_batch: null,
        waiting_for: null,
      },
      { onBehalfOf: null },
    );
    await expect(fromWest).rejects.toMatchObject({ code: 'not_found' });
    const after = await view(latest!.id);
    expect(legOf(after, 'east')).toMatchObject({ state: 'completed', rollout_id: eastLeg.id });
    expect(legOf(after, 'west')).toMatchObject({ state: 'completed', failed_total: 0 });
  });

  it('pause_peer pauses one leg while the others go on; resume lets it finish', async () => {
    const f = await fleets('pp', 6);
    const created = await create({
      module_name: 'mod-pp',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-pp',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await round(f);
    const paused = await control(created.id, {
      action: 'pause_peer',
      federation_peer_id: 'east',
      reason: 'look first',
    });
    expect(paused.legs).toEqual([expect.objectContaining({ peer_name: 'east', outcome: 'queued' })]);
    await tickAll(); // the pause is delivered
    expect((await legRollout(east, created.id)).state).toBe('paused');
    const others = await runUntil(created.id, f, (v) =>
      ['origin', 'west'].every((p) => legOf(v, p).state === 'completed'),
    );
    expect(legOf(others, 'east')).toMatchObject({ state: 'paused', waiting_for: 'paused on east' });
    expect(await batchesStarted(east, created.id)).toEqual([0]);
    expect(await peerAudit(origin, 'east')).toContain('federated_rollout.pause_peer');
    expect(await peerAudit(origin, 'west')).not.toContain('federated_rollout.pause_peer');
    expect(await peerAudit(east, 'origin')).toContain('federated_rollout.pause');

    const resumed = await control(created.id, { action: 'resume' });
    expect(resumed.legs.filter((l) => l.outcome !== 'skipped').map((l) => l.peer_name)).toEqual(['east']);
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(await peerAudit(origin, 'east')).toContain('federated_rollout.resume');
    expect(await peerAudit(east, 'origin')).toContain('federated_rollout.resume');
  });

  it('rolls back every leg across peers', async () => {
    const f = await fleets('rb', 6);
    const created = await create({
      module_name: 'mod-rb',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-rb',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await runUntil(created.id, f, (v) => v.legs.every((l) => l.completed_batches >= 1));
    const res = await control(created.id, { action: 'rollback', reason: 'bad canary' });
    expect(res.federated_rollout.state).toBe('rolling_back');
    expect(res.legs.map((l) => [l.peer_name, l.outcome])).toEqual([
      ['origin', 'applied'],
      ['east', 'queued'],
      ['west', 'queued'],
    ]);
    const done = await runUntil(created.id, f, (v) => v.state !== 'rolling_back');
    expect(done.state).toBe('rolled_back');
    expect(done.legs.map((l) => l.state)).toEqual(['rolled_back', 'rolled_back', 'rolled_back']);
    for (const s of sites) {
      const fleet = f.get(s)!;
      expect(
        fleet.agents.every((a) => a.running[fleet.module] === fleet.old.digest),
        s.name,
      ).toBe(true);
    }
    for (const s of [east, west]) {
      expect(await peerAudit(origin, s.name)).toContain('federated_rollout.rollback');
      expect(await peerAudit(s, 'origin')).toContain('federated_rollout.rollback');
    }
    expect(await countEvents(origin.p.store.db, 'federation.rollout.rollback')).toBe(1);
  });

  it('sends each peer its per_peer_group, and refuses an override naming a group a peer lacks', async () => {
    const f = await fleets('ppg', 2);
    const base = { module_name: 'mod-ppg', target_version: '1.26.0', peers: ['east', 'west'], include_local: true };
    const rows = () => origin.p.store.db.selectFrom('federated_rollouts').select('id').execute();
    const before = await rows();
    const bad = await call(lead, 'create_federated_rollout', {
      ...base,
      group: 'group-ppg',
      per_peer_group: { west: 'group-elsewhere' },
    });
    expect(bad.error?.code).toBe('conflict');
    expect(bad.error?.message).toContain('west: group group-elsewhere is missing');
    expect(bad.error?.message).not.toContain('east:');
    expect(await rows()).toEqual(before);

    // The default group exists nowhere: every leg runs only because its override reached its platform.
    const created = await create({
      ...base,
      peers: ['east', peerIds.west],
      group: 'group-nowhere',
      per_peer_group: { east: 'group-ppg', [peerIds.west]: 'group-ppg', local: 'group-ppg' },
    });
    expect(created.legs.map((l) => [l.peer_name, l.group])).toEqual([
      ['origin', 'group-ppg'],
      ['east', 'group-ppg'],
      ['west', 'group-ppg'],
    ]);
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
  });

  it('fails the leg of a peer where the caller is unknown or lacks the role, with the reason, while the others go on', async () => {
    const f = await fleets('who', 2);
    const solo = await origin.p.memoryClient(await origin.p.operator('solo', 'admin'));
    await west.p.operator('solo', 'viewer'); // east has no solo at all
    await bindPeerOperator(west.p, 'origin', 'solo');
    const res = await call(solo, 'create_federated_rollout', {
      module_name: 'mod-who',
      target_version: '1.26.0',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-who',
      strategy: { type: 'batch', batch_pct: 50 },
    });
    expect(res.error).toBeUndefined();
    const id = (res.data.federated_rollout as RolloutView).id;
    const done = await runUntil(id, f, (v) => v.state !== 'running');
    expect(legOf(done, 'east')).toMatchObject({ state: 'failed', rollout_id: null });
    expect(legOf(done, 'east').last_error).toContain('on behalf of solo, who is not an active operator here');
    expect(legOf(done, 'west')).toMatchObject({ state: 'failed', rollout_id: null });
    expect(legOf(done, 'west').last_error).toContain('operator solo is viewer');
    expect(legOf(done, 'origin')).toMatchObject({ state: 'completed', healthy_total: 2 });
    expect(done.state).toBe('failed');
    expect(done.reason).toMatch(/east: .*solo.*west: .*solo/);
    for (const s of [east, west]) {
      const rows = await s.p.store.db.selectFrom('rollouts').select('id').where('federation_rollout_ref', '=', id);
      expect(await rows.execute(), s.name).toEqual([]);
    }
  });

  it('applies a canary_step_up strategy per peer, named by this platform’s module_id: the same canary first everywhere', async () => {
    const f = await fleets('canary', 6);
    const created = await create({
      module_id: f.get(origin)!.target.moduleId,
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-canary',
      coordination: 'synchronized',
      strategy: { type: 'canary_step_up', canary_count: 1, step_pct: 50 },
    });
    await tickAll(); // starts delivered; every leg starts its canary batch
    for (const s of sites) {
      const r = await legRollout(s, created.id);
      expect(r.moduleName, s.name).toBe('mod-canary');
      const started = await rolloutEvents(s.p, r.id, 'batch_started');
      expect(
        started.map((e) => [e.payload.batch_index, e.payload.instance_count]),
        s.name,
      ).toEqual([[0, 1]]);
    }
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.legs.map((l) => [l.batch_count, l.completed_batches, l.healthy_total])).toEqual([
      [3, 3, 6],
      [3, 3, 6],
      [3, 3, 6],
    ]);
  });

  it('applies a percentage strategy per peer: each leg cuts its own fleet at the same cumulative steps, then completes', async () => {
    // 10 % → 50 % → 100 % of 10 instances is 1, 4, 5; of 4 it is 1, 1, 2; of 2 it is 1, 1 (10 % and 50 % of
    // two instances are the same one instance, so west's plan has one batch fewer).
    const sizes = new Map<Site, number>([
      [origin, 10],
      [east, 4],
      [west, 2],
    ]);
    const f = new Map<Site, FleetScenario>();
    for (const [s, count] of sizes) f.set(s, await FleetScenario.create(s.p, s.crew, 'pct', count));
    const strategy = { type: 'percentage', steps: [10, 50, 100] };
    const created = await create({
      module_name: 'mod-pct',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-pct',
      strategy,
    });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.legs.map((l) => [l.peer_name, l.state, l.batch_count, l.completed_batches, l.healthy_total])).toEqual([
      ['origin', 'completed', 3, 3, 10],
      ['east', 'completed', 3, 3, 4],
      ['west', 'completed', 2, 2, 2],
    ]);
    const expected: Record<string, Array<[number, number]>> = {
      origin: [
        [0, 1],
        [1, 4],
        [2, 5],
      ],
      east: [
        [0, 1],
        [1, 1],
        [2, 2],
      ],
      west: [
        [0, 1],
        [1, 1],
      ],
    };
    for (const s of sites) {
      const r = await legRollout(s, created.id);
      expect(r.strategy, s.name).toEqual(strategy);
      const started = await rolloutEvents(s.p, r.id, 'batch_started');
      expect(
        started.map((e) => [e.payload.batch_index, e.payload.instance_count]),
        s.name,
      ).toEqual(expected[s.name]);
      const fleet = f.get(s)!;
      expect(
        fleet.agents.every((a) => a.running[fleet.module] === fleet.target.digest),
        s.name,
      ).toBe(true);
    }
  });

  it('runs a local-only federated rollout (peers: [], include_local) to completion with its one leg, sending nothing to any peer', async () => {
    const f = await fleets('solo', 4, [origin]);
    const outbox = () => origin.p.store.db.selectFrom('federation_outbox').select('id').execute();
    const outboxBefore = await outbox();
    const auditBefore = [await peerAudit(origin, 'east'), await peerAudit(origin, 'west')];
    const created = await create({ module_name: 'mod-solo', peers: [], include_local: true, group: 'group-solo' });
    expect(created.legs).toEqual([
      expect.objectContaining({ peer_name: 'origin', federation_peer_id: null, state: 'running', batch_count: 2 }),
    ]);

    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done).toMatchObject({ state: 'completed', waiting: [] });
    expect(done.legs).toHaveLength(1);
    expect(done.legs[0]).toMatchObject({
      peer_name: 'origin',
      state: 'completed',
      batch_count: 2,
      completed_batches: 2,
      healthy_total: 4,
      failed_total: 0,
    });
    expect(await legRollout(origin, created.id)).toMatchObject({
      state: 'completed',
      federationRolloutRef: created.id,
    });
    const fleet = f.get(origin)!;
    expect(fleet.agents.every((a) => a.running[fleet.module] === fleet.target.digest)).toBe(true);
    // No peer took part: nothing queued for one, nothing on their logs, no leg on their platforms.
    expect(await outbox()).toEqual(outboxBefore);
    expect([await peerAudit(origin, 'east'), await peerAudit(origin, 'west')]).toEqual(auditBefore);
    for (const s of [east, west]) {
      const rows = s.p.store.db.selectFrom('rollouts').select('id').where('federation_rollout_ref', '=', created.id);
      expect(await rows.execute(), s.name).toEqual([]);
    }
    const initiated = await call(lead, 'recent_events', { kind_prefix: 'federation.rollout_initiated', limit: 500 });
    const event = (initiated.data.events as Array<{ payload: Record<string, unknown> }>).find(
      (e) => e.payload.federated_rollout_id === created.id,
    );
    expect(event?.payload).toMatchObject({ include_local: true, peers: [{ peer: 'origin', local: true }] });
  });

  it('runs a synchronized local-only federated rollout: its one leg raises its own barrier batch by batch', async () => {
    const f = await fleets('solosync', 6, [origin]);
    const created = await create({
      module_name: 'mod-solosync',
      peers: [],
      include_local: true,
      group: 'group-solosync',
      coordination: 'synchronized',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    expect(created).toMatchObject({ coordination: 'synchronized', barrier_batch: 0 });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.legs.map((l) => [l.peer_name, l.state, l.completed_batches, l.healthy_total])).toEqual([
      ['origin', 'completed', 3, 6],
    ]);
    expect(await batchesStarted(origin, created.id)).toEqual([0, 1, 2]);
  });

  it('aborts every leg across peers, audited on each peer’s log on both sides', async () => {
    const f = await fleets('ab', 6);
    const created = await create({
      module_name: 'mod-ab',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-ab',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await round(f);
    const res = await control(created.id, { action: 'abort', reason: 'wrong window' });
    expect(res.federated_rollout.state).toBe('aborting');
    expect(res.legs.map((l) => [l.peer_name, l.outcome])).toEqual([
      ['origin', 'applied'],
      ['east', 'queued'],
      ['west', 'queued'],
    ]);
    const done = await runUntil(created.id, f, (v) => v.state !== 'aborting');
    expect(done.state).toBe('aborted');
    expect(done.legs.map((l) => l.state)).toEqual(['aborted', 'aborted', 'aborted']);
    for (const s of [east, west]) {
      expect(await peerAudit(origin, s.name)).toContain('federated_rollout.abort');
      expect(await peerAudit(s, 'origin')).toContain('federated_rollout.abort');
      expect((await legRollout(s, created.id)).state).toBe('aborted');
      expect(await batchesStarted(s, created.id)).toEqual([0]);
    }
    expect(await countEvents(origin.p.store.db, 'federation.rollout.abort')).toBe(1);
    expect(await countEvents(origin.p.store.db, 'federation.rollout.aborted')).toBe(1);
  });

  it('shows a leg’s open circuit breaker and its pending decision at the origin; the decision is made on that peer', async () => {
    const f = await fleets('cb', 6);
    for (const [s, fleet] of f) if (s !== west) fleet.failing = () => false; // only west's instances fail
    const created = await create({
      module_name: 'mod-cb',
      target_version: '1.26.0-broken',
      peers: ['east', 'west'],
      include_local: true,
      group: 'group-cb',
      strategy: { type: 'batch', batch_pct: 30 },
      max_consecutive_failures: 2,
    });
    const tripped = await runUntil(created.id, f, (v) => legOf(v, 'west').state === 'circuit_open');
    const leg = legOf(tripped, 'west');
    expect(leg.pending_approval_ids).toHaveLength(1);
    const approvalId = leg.pending_approval_ids[0]!;
    expect(leg.waiting_for).toBe(`circuit_open on west: a continuation decision (approval ${approvalId})`);
    expect(leg.failed_total).toBe(2);
    expect(tripped.waiting).toContain(leg.waiting_for);
    // The breaker and its approval live on west: the origin has no such approval to decide.
    await expect(origin.p.app.services.approvals.get(approvalId)).rejects.toMatchObject({ code: 'not_found' });
    const others = await runUntil(created.id, f, (v) =>
      ['origin', 'east'].every((p) => legOf(v, p).state === 'completed'),
    );
    expect(legOf(others, 'west').state).toBe('circuit_open');
    expect(others.state).toBe('running');

    await west.p.app.services.approvals.decide(west.crew.bob, {
      id: approvalId,
      decision: 'approve',
      option: 'rollback_completed_batches',
    });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(legOf(done, 'west')).toMatchObject({ state: 'rolled_back', pending_approval_ids: [] });
    expect(done.state).toBe('rolled_back');
  });

  it('switching an independent rollout to synchronized sets the barrier at the lowest batch and holds the leg ahead', async () => {
    const f = await fleets('tosync', 6, [east, west]);
    const created = await create({
      module_name: 'mod-tosync',
      peers: ['east', 'west'],
      group: 'group-tosync',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await tickAll(); // starts delivered; both legs start batch 0
    await round(f, [west]);
    const switched = await control(created.id, { action: 'set_coordination', coordination: 'synchronized' });
    expect(switched.federated_rollout).toMatchObject({ coordination: 'synchronized', barrier_batch: 0 });
    expect(switched.legs.map((l) => [l.peer_name, l.outcome])).toEqual([
      ['east', 'queued'],
      ['west', 'queued'],
    ]);
    await tickAll(); // the barrier reaches both legs
    expect((await legRollout(east, created.id)).barrierBatch).toBe(0);
    const atSwitch = await batchesStarted(east, created.id);
    await round(f, [west]);
    await round(f, [west]);
    expect(await batchesStarted(east, created.id)).toEqual(atSwitch);
    expect(legOf(await view(created.id), 'east').waiting_for).toBe('barrier: waiting for west (batch 0)');
    expect(await peerAudit(origin, 'east')).toContain('federated_rollout.set_coordination');
    expect(await peerAudit(east, 'origin')).toContain('federated_rollout.set_barrier');
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.legs.map((l) => l.completed_batches)).toEqual([3, 3]);
  });

  // ---- the seed's failure table -----------------------------------------------------------------

  it('parks a four-eyes leg in pending_approval while the others go on, until another operator there approves', async () => {
    const policies = east.p.app.services.policies;
    await policies.set(east.crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'require_approval', fourEyes: true });
    try {
      const f = await fleets('four', 4);
      const created = await create({ module_name: 'mod-four', peers: ['east', 'west'], group: 'group-four' });
      const others = await runUntil(created.id, f, (v) => legOf(v, 'west').state === 'completed');
      const parked = legOf(others, 'east');
      expect(parked.state).toBe('pending_approval');
      expect(parked.pending_approval_ids).toHaveLength(1);
      expect(parked.waiting_for).toBe(`pending_approval on east (approval ${parked.pending_approval_ids[0]})`);
      expect(others.state).toBe('running');

      const approvals = east.p.app.services.approvals;
      const id = parked.pending_approval_ids[0]!;
      await expect(approvals.decide(east.lead, { id, decision: 'approve' })).rejects.toThrow();
      await approvals.decide(east.crew.alice, { id, decision: 'approve' });
      const done = await runUntil(created.id, f, (v) => v.state !== 'running');
      expect(done.state).toBe('completed');
    } finally {
      await policies.set(east.crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    }
  });

  it('fails the leg whose version was archived on its peer after the rollout was created; the others finish', async () => {
    const f = await fleets('arch', 4, [east, west]);
    const created = await create({ module_name: 'mod-arch', peers: ['east', 'west'], group: 'group-arch' });
    await west.p.app.services.modules.promote(west.crew.admin, {
      versionRef: '1.26.0',
      module: { moduleName: 'mod-arch' },
      to: 'archived',
    });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(legOf(done, 'west').state).toBe('failed');
    expect(legOf(done, 'west').last_error).toContain('archived');
    expect(legOf(done, 'east').state).toBe('completed');
    expect(done.state).toBe('failed');
    expect(done.reason).toContain('west');
    expect(
      await west.p.store.db
        .selectFrom('rollouts')
        .select('id')
        .where('federation_rollout_ref', '=', created.id)
        .execute(),
    ).toEqual([]);
  });

  it('shows a lost peer lost_contact since its last contact, holds the others at the barrier, and delivers queued controls once when it is back', async () => {
    const f = await fleets('lost', 6, [east, west]);
    const created = await create({
      module_name: 'mod-lost',
      peers: ['east', 'west'],
      group: 'group-lost',
      coordination: 'synchronized',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await round(f); // starts delivered, batch 0 started on both
    const before = await view(created.id);
    const lastContact = legOf(before, 'east').last_contact_at;
    expect(lastContact).not.toBeNull();

    links.toEast.down();
    links.eastToOrigin.down();
    east.p.clock.advance(1000);
    origin.p.clock.advance(1000);
    west.p.clock.advance(1000);
    await round(f);
    await round(f);
    const lost = await view(created.id);
    expect(legOf(lost, 'east')).toMatchObject({ lost_contact: true, last_contact_at: lastContact });
    expect(lost.waiting).toContain(`lost_contact: east since ${lastContact}`);
    expect(legOf(lost, 'west').waiting_for).toBe('barrier: waiting for east (batch 0)');
    // east runs on by itself: it finished batch 0 and holds at the barrier.
    expect(await batchesStarted(east, created.id)).toEqual([0]);
    expect((await legRollout(east, created.id)).healthyTotal).toBe(2);

    const paused = await control(created.id, { action: 'pause', reason: 'while east is away' });
    expect(paused.legs.map((l) => [l.peer_name, l.outcome])).toEqual([
      ['east', 'queued'],
      ['west', 'queued'],
    ]);
    await tickAll();
    await tickAll();
    expect((await legRollout(west, created.id)).state).toBe('paused');
    expect((await legRollout(east, created.id)).state).toBe('running');
    expect(await peerAudit(origin, 'west')).toContain('federated_rollout.pause');
    expect(await peerAudit(west, 'origin')).toContain('federated_rollout.pause');

    links.toEast.up();
    links.eastToOrigin.up();
    for (const s of sites) s.p.clock.advance(5000);
    await tickAll();
    await tickAll();
    const back = await view(created.id);
    expect(legOf(back, 'east')).toMatchObject({ lost_contact: false, state: 'paused', completed_batches: 1 });
    expect(Date.parse(legOf(back, 'east').last_contact_at!)).toBeGreaterThan(Date.parse(lastContact!));
    const eastLeg = await legRollout(east, created.id);
    expect(await rolloutEvents(east.p, eastLeg.id, 'paused')).toHaveLength(1);
    const entries = await origin.p.store.db
      .selectFrom('federation_outbox')
      .selectAll()
      .where('federation_peer_id', '=', peerIds.east)
      .where('operation', '=', 'rollouts.control')
      .execute();
    const pause = entries.find((e) => e.args.federated_rollout_id === created.id && e.args.action === 'pause')!;
    expect(pause).toMatchObject({ status: 'delivered' });
    expect(pause.attempts).toBeGreaterThan(1);

    await control(created.id, { action: 'resume' });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
  });

  it('switching a synchronized rollout waiting for a slow peer to independent releases the waiting leg', async () => {
    const f = await fleets('switch', 6, [east, west]);
    const created = await create({
      module_name: 'mod-switch',
      peers: ['east', 'west'],
      group: 'group-switch',
      coordination: 'synchronized',
      strategy: { type: 'batch', batch_pct: 30 },
    });
    await tickAll();
    await round(f, [west]);
    await round(f, [west]);
    expect(legOf(await view(created.id), 'east').waiting_for).toBe('barrier: waiting for west (batch 0)');
    expect(await batchesStarted(east, created.id)).toEqual([0]);

    const switched = await control(created.id, { action: 'set_coordination', coordination: 'independent' });
    expect(switched.federated_rollout).toMatchObject({ coordination: 'independent', barrier_batch: null });
    await tickAll(); // the barrier is lifted on both peers; east starts batch 1 at once
    expect(await batchesStarted(east, created.id)).toEqual([0, 1]);
    expect((await legRollout(east, created.id)).barrierBatch).toBeNull();
    const eastDone = await runUntil(created.id, f, (v) => legOf(v, 'east').state === 'completed', [west]);
    expect(legOf(eastDone, 'west')).toMatchObject({ state: 'running', completed_batches: 0 });
    const done = await runUntil(created.id, f, (v) => v.state !== 'running');
    expect(done.state).toBe('completed');
  });

  it('refuses to target a registered peer that is not active, by the name given and its status', async () => {
    const westPeer = () => origin.p.app.services.federation.resolve('west');
    links.toWest.down();
    links.westToOrigin.down();
    try {
      for (let i = 0; i < 10 && (await westPeer()).status === 'active'; i++) {
        for (const s of sites) s.p.clock.advance(20_000);
        await tick(origin.p);
      }
      expect((await westPeer()).status).toBe('lost_contact');
      const res = await call(lead, 'create_federated_rollout', {
        module_name: 'mod-pre',
        target_version: '1.26.0',
        peers: ['east', 'west'],
        group: 'group-pre',
      });
      expect(res.error?.code).toBe('conflict');
      expect(res.error?.message).toContain('federation peer west is lost_contact');
    } finally {
      links.toWest.up();
      links.westToOrigin.up();
    }
    for (let i = 0; i < 10 && (await westPeer()).status !== 'active'; i++) {
      for (const s of sites) s.p.clock.advance(20_000);
      await tickAll();
    }
    expect((await westPeer()).status).toBe('active');
  });
});
