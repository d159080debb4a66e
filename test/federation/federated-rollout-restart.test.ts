// A synchronized federated rollout over three real platforms (child processes, real clocks), each with
// simulated agents. One target is killed with SIGKILL mid-rollout: the origin shows its leg
// lost_contact with the time of last contact and the other legs hold at the barrier; the target is
// restarted on the same port and store, the rollout completes everywhere, and no batch (so no
// instance) was started twice on the restarted target.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { restartServed } from '../helpers/cli.js';
import {
  bindServed,
  federate,
  legOf as leg,
  prepareFleet,
  ServedFederation,
  tool,
  waitForServed as waitFor,
  type Obj,
} from '../helpers/served-federation.js';
import { STORE_KINDS } from '../helpers/store.js';

const AGENTS = 6;

describe.each(STORE_KINDS)('a federated rollout with a target killed mid-rollout on %s', (kind) => {
  let fed: ServedFederation;

  beforeAll(() => {
    fed = new ServedFederation(kind, 'flotilla-fedroll-restart-');
  });
  afterEach(() => fed.stopAll());
  afterAll(() => fed.dispose());

  it('completes after the target comes back, with every batch started once', async () => {
    const hq = await fed.start('hq', 'eu-west-1');
    const us = await fed.start('us', 'us-east-1');
    const ap = await fed.start('ap', 'ap-south-1');
    for (const target of [us, ap]) await federate(hq, target);
    for (const target of [us, ap]) await bindServed(target, 'hq', 'admin');
    for (const p of [hq, us, ap]) await prepareFleet(p, AGENTS);

    const created = await tool(hq, 'create_federated_rollout', {
      module_name: 'nginx',
      target_version: '1.26.0',
      peers: ['us', 'ap'],
      include_local: true,
      group: 'web',
      strategy: { type: 'batch', batch_pct: 34 },
      coordination: 'synchronized',
      max_consecutive_failures: 2,
      health_timeout_sec: 30,
    });
    const id = created.federated_rollout.id as string;
    const view = async (): Promise<Obj> =>
      (await tool(hq, 'get_federated_rollout', { federated_rollout_id: id })).federated_rollout as Obj;

    // Kill us once its leg completed the first batch.
    await waitFor('us to complete batch 0', async () => (leg(await view(), 'us').completed_batches as number) >= 1);
    const usRollout = leg(await view(), 'us').rollout_id as string;
    // Its agents keep running and retry with backoff while their platform is down.
    await us.client.close();
    await us.child.stop('SIGKILL');

    const lost = await waitFor('the origin to show us lost', async () => {
      const v = await view();
      return leg(v, 'us').lost_contact === true && v;
    });
    expect(leg(lost, 'us').last_contact_at).not.toBeNull();
    expect(lost.state).not.toBe('completed');

    // us comes back on the same port and store; its agents reconnect by themselves.
    await restartServed(fed.children, us);

    const done = await waitFor('the federated rollout to complete', async () => {
      const v = await view();
      return v.state === 'completed' && v;
    });
    for (const l of done.legs as Obj[]) {
      expect(l).toMatchObject({ state: 'completed', lost_contact: false });
      expect(l.completed_batches).toBe(l.batch_count);
    }

    // On the restarted target: its own rollout, linked, with each batch started exactly once.
    const local = (await tool(us, 'get_rollout', { rollout_id: usRollout })) as Obj;
    expect(JSON.stringify(local)).toContain(id);
    const started = (await tool(us, 'recent_events', { kind_prefix: 'module.upgrade.batch_started', limit: 500 }))
      .events as Obj[];
    const batches = started.filter((e) => e.payload.rollout_id === usRollout).map((e) => e.payload.batch_index);
    expect(batches.sort()).toEqual([...new Set(batches)].sort());
    expect(new Set(batches).size).toBe(leg(done, 'us').batch_count);
    const drift = await tool(us, 'drift_report', { group: 'web' });
    expect(drift.drift).toBe(false);
    // Every agent changed version exactly once (1.24.0 → 1.26.0): none was told to start it again.
    for (const p of [hq, us, ap]) expect(p.sim!.stats.applied, p.name).toBe(AGENTS);
  }, 600_000);
});
