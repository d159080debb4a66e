// A synchronized federated rollout over three real platforms (child processes, real clocks, simulated
// agents) whose originating platform is killed with SIGKILL while a pause is on its way to the legs: us
// has applied it but hq never got the answer (in flight), ap never received it (queued). hq restarts on
// the same port and store; each leg then holds exactly one application of the pause, and the rollout
// resumes and completes. hq reaches each target through a PeerProxy, which decides what gets through.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { restartServed } from '../helpers/cli.js';
import { PeerProxy, type ProxiedCall } from '../helpers/peer-proxy.js';
import {
  bindServed,
  federate,
  legOf,
  listAll,
  prepareFleet,
  ServedFederation,
  tool,
  waitForServed,
  type Obj,
  type ServedSite,
} from '../helpers/served-federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const AGENTS = 6;
const portOf = (p: ServedSite): number => Number(new URL(p.url).port);

describe.each(STORE_KINDS)('a federated rollout whose origin is killed with a control on its way, on %s', (kind) => {
  let fed: ServedFederation;
  const proxies: PeerProxy[] = [];

  beforeAll(() => {
    fed = new ServedFederation(kind, 'flotilla-fedroll-origin-restart-');
  });
  afterEach(async () => {
    await fed.stopAll();
    for (const p of proxies.splice(0)) await p.close();
  });
  afterAll(() => fed.dispose());

  /** Entries of `p`'s audit log of its peering with hq (oldest first). */
  const auditOfHq = (p: ServedSite): Promise<Obj[]> =>
    listAll(p, 'get_audit_log', 'entries', { federation_peer_id: 'hq' });

  it('delivers a pause in flight and a pause still queued once to each leg after the restart, then completes', async () => {
    const toUs = await PeerProxy.open();
    const toAp = await PeerProxy.open();
    proxies.push(toUs, toAp);
    const hq = await fed.start('hq', 'eu-west-1');
    const us = await fed.start('us', 'us-east-1', ['--public-url', toUs.url]);
    const ap = await fed.start('ap', 'ap-south-1', ['--public-url', toAp.url]);
    toUs.to(portOf(us));
    toAp.to(portOf(ap));
    for (const target of [us, ap]) await federate(hq, target);
    for (const target of [us, ap]) await bindServed(target, 'hq', 'admin');
    for (const p of [hq, us, ap]) await prepareFleet(p, AGENTS);

    // ap takes its precheck and start from hq and nothing else for now (no status polls either, which
    // would have hq re-send the barrier every tick): its leg runs batch 0 and, never told of a higher
    // barrier, holds there; the other legs finish batch 1 and wait for it.
    toAp.refuse((c) => c.operation !== null && c.operation !== 'rollouts.precheck' && c.operation !== 'rollouts.start');
    const created = await tool(hq, 'create_federated_rollout', {
      module_name: 'nginx',
      target_version: '1.26.0',
      peers: ['us', 'ap'],
      include_local: true,
      group: 'web',
      strategy: { type: 'batch', batch_pct: 20 }, // 6 instances: 3 batches of 2
      coordination: 'synchronized',
      max_consecutive_failures: 2,
      health_timeout_sec: 60,
    });
    const id = created.federated_rollout.id as string;
    const view = async (): Promise<Obj> =>
      (await tool(hq, 'get_federated_rollout', { federated_rollout_id: id })).federated_rollout as Obj;
    const held = await waitForServed('hq and us at batch 2, ap at batch 1, all running', async () => {
      const v = await view();
      const done = (peer: string) => legOf(v, peer).completed_batches as number;
      const running = (v.legs as Obj[]).every((l) => l.state === 'running');
      return running && done('hq') === 2 && done('us') === 2 && done('ap') === 1 && v;
    });
    const peerId = { us: legOf(held, 'us').federation_peer_id as string, ap: legOf(held, 'ap').federation_peer_id };
    const legRollout = { us: legOf(held, 'us').rollout_id as string, ap: legOf(held, 'ap').rollout_id as string };

    // us applies the pause but its answer never reaches hq; ap refuses every call.
    const isPause = (c: ProxiedCall): boolean =>
      c.operation === 'rollouts.control' && c.args.action === 'pause' && c.args.federated_rollout_id === id;
    toUs.withhold(isPause);
    toAp.refuse((c) => c.operation !== null);
    const paused = await tool(hq, 'control_federated_rollout', {
      federated_rollout_id: id,
      action: 'pause',
      reason: 'change freeze',
    });
    expect(Object.fromEntries((paused.legs as Obj[]).map((l) => [l.peer_name, l.outcome]))).toEqual({
      hq: 'applied',
      us: 'queued',
      ap: 'queued',
    });
    const isPauseEntry = (c: Obj): boolean => isPause({ path: '', operation: c.operation, args: c.args });
    const pauseOf = (calls: Obj[], peer: 'us' | 'ap'): Obj | undefined =>
      calls.find((c) => c.federation_peer_id === peerId[peer] && isPauseEntry(c));
    const beforeKill = await waitForServed('the pause applied on us and refused by ap', async () => {
      if (toUs.withheld.length === 0) return false;
      const calls = await listAll(hq, 'list_federation_outbox', 'calls', { status: 'pending' });
      const ap = pauseOf(calls, 'ap');
      return ap?.last_error != null && calls;
    });
    await hq.client.close();
    await hq.child.stop('SIGKILL');

    // At the kill: us's pause claimed and sent, never settled; ap's pause waiting for its next attempt.
    const usPause = pauseOf(beforeKill, 'us')!;
    const apPause = pauseOf(beforeKill, 'ap')!;
    expect(usPause).toMatchObject({ status: 'pending', attempts: 1, response_status: null });
    expect(apPause).toMatchObject({ status: 'pending', response_status: null });
    expect(toUs.withheld.filter(isPause)).toEqual([expect.objectContaining({ status: 200 })]);
    const applied = async (p: ServedSite, key: string) => {
      const log = await auditOfHq(p);
      return {
        pauses: log.filter((e) => e.action === 'federated_rollout.pause' && e.payload.federated_rollout_id === id)
          .length,
        received: log.filter((e) => e.action === 'peer.call.received' && e.payload.idempotency_key === key).length,
      };
    };
    expect(await applied(us, usPause.idempotency_key as string)).toEqual({ pauses: 1, received: 1 });
    expect(await applied(ap, apPause.idempotency_key as string)).toEqual({ pauses: 0, received: 0 });

    // hq comes back on the same port and store. ap lets the pause through (and nothing else yet, so the
    // pause finds its leg running at the barrier); us passes everything on again.
    toUs.withhold(null);
    await restartServed(fed.children, hq);
    toAp.refuse((c) => c.operation !== null && !isPause(c));
    const settled = await waitForServed('both pauses settled by the restarted hq', async () => {
      const calls = await listAll(hq, 'list_federation_outbox', 'calls');
      const found = [calls.find((c) => c.id === usPause.id), calls.find((c) => c.id === apPause.id)];
      return found.every((c) => c !== undefined && c.status !== 'pending') && (found as Obj[]);
    });
    toAp.refuse(null);
    for (const entry of settled) {
      expect(entry).toMatchObject({ status: 'delivered', response_status: 200 });
      expect(entry.attempts).toBeGreaterThanOrEqual(2);
    }
    // Applied once on each leg: one audit entry, one application of its idempotency key, one paused event.
    expect(await applied(us, usPause.idempotency_key as string)).toEqual({ pauses: 1, received: 1 });
    expect(await applied(ap, apPause.idempotency_key as string)).toEqual({ pauses: 1, received: 1 });
    for (const [p, rolloutId] of [
      [us, legRollout.us],
      [ap, legRollout.ap],
    ] as const) {
      const events = await listAll(p, 'recent_events', 'events', { kind_prefix: 'module.upgrade.paused' });
      expect(events.filter((e) => e.payload.rollout_id === rolloutId).length, p.name).toBe(1);
    }
    // hq queued one pause per peer, before the kill, and none since.
    const controls = await listAll(hq, 'list_federation_outbox', 'calls');
    expect(
      controls
        .filter(isPauseEntry)
        .map((c) => c.id)
        .sort(),
    ).toEqual([usPause.id, apPause.id].sort());

    const stopped = await waitForServed('every leg paused at hq, in contact', async () => {
      const v = await view();
      return (v.legs as Obj[]).every((l) => l.state === 'paused' && l.lost_contact === false) && v;
    });
    expect(stopped.state).toBe('running');

    // The rollout resumes its course and completes on every leg.
    await tool(hq, 'control_federated_rollout', { federated_rollout_id: id, action: 'resume' });
    const done = await waitForServed('the federated rollout to complete', async () => {
      const v = await view();
      return v.state === 'completed' && v;
    });
    for (const l of done.legs as Obj[]) {
      expect(l, l.peer_name).toMatchObject({ state: 'completed', completed_batches: 3, batch_count: 3 });
    }
    for (const p of [hq, us, ap]) {
      const rolloutId = legOf(done, p.name).rollout_id as string;
      const started = await listAll(p, 'recent_events', 'events', { kind_prefix: 'module.upgrade.batch_started' });
      const batches = started.filter((e) => e.payload.rollout_id === rolloutId).map((e) => e.payload.batch_index);
      expect(batches.sort(), p.name).toEqual([0, 1, 2]);
      // Every agent changed version exactly once (1.24.0 → 1.26.0).
      expect(p.sim!.stats.applied, p.name).toBe(AGENTS);
    }
  }, 600_000);
});
