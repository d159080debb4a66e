// A synchronized federated rollout over three real platforms (child processes, real clocks), each with
// simulated agents. One target is killed with SIGKILL mid-rollout: the origin shows its leg
// lost_contact with the time of last contact and the other legs hold at the barrier; the target is
// restarted on the same port and store, the rollout completes everywhere, and no batch (so no
// instance) was started twice on the restarted target.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentSimulator } from '../../src/agents/simulator.js';
import {
  ChildSet,
  makeTempDir,
  processDatabases,
  restartServed,
  startServed,
  type ProcessDatabases,
  type ServedPlatform,
  type TempDir,
} from '../helpers/cli.js';
import { waitFor as waitForCondition } from '../helpers/fleet.js';
import { silentLogger, STORE_KINDS } from '../helpers/store.js';

const DEADLINE_MS = 120_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = DEADLINE_MS): Promise<T> =>
  waitForCondition(what, check, timeoutMs);
const AGENTS = 6;
const digest = (c: string): string => `sha256:${c.repeat(64)}`;

type Platform = ServedPlatform & { sim: AgentSimulator | null };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tool results read loosely, as an assistant does
type Obj = Record<string, any>;

describe.each(STORE_KINDS)('a federated rollout with a target killed mid-rollout on %s', (kind) => {
  const children = new ChildSet();
  let tmp: TempDir;
  let databases: ProcessDatabases;
  const platforms: Platform[] = [];

  beforeAll(() => {
    tmp = makeTempDir('flotilla-fedroll-restart-');
    databases = processDatabases(kind, tmp);
  });
  afterEach(async () => {
    for (const p of platforms.splice(0)) {
      await p.sim?.stop();
      await p.client.close().catch(() => undefined);
    }
    await children.killAll();
  });
  afterAll(async () => {
    await databases.dropAll();
    tmp.remove();
  });

  async function start(name: string, region: string): Promise<Platform> {
    const served = await startServed(children, name, [
      ...['--region', region, '--database-url', await databases.url(name)],
      ...['--tick-ms', '100', '--agent-heartbeat-ms', '200', '--peer-heartbeat-ms', '300', '--log-level', 'warn'],
    ]);
    const platform: Platform = Object.assign(served, { sim: null });
    platforms.push(platform);
    return platform;
  }

  async function tool(p: Platform, name: string, args: Record<string, unknown> = {}): Promise<Obj> {
    const res = await p.client.callTool(name, args);
    if (res.isError) throw new Error(`${p.name} ${name}: ${res.text}`);
    return res.structured as Obj;
  }

  async function prepareFleet(p: Platform): Promise<void> {
    await tool(p, 'publish_module_version', { module_name: 'nginx', version: '1.24.0', digest: digest('a') });
    await tool(p, 'publish_module_version', { module_name: 'nginx', version: '1.26.0', digest: digest('b') });
    await tool(p, 'set_intervention_policy', {
      action: 'system.fleet_rolling_upgrade',
      mode: 'auto',
      four_eyes: false,
    });
    const enroll = await tool(p, 'create_enrollment_token', { group: 'web' });
    await tool(p, 'assign_module_version', { group: 'web', module_name: 'nginx', version_id: '1.24.0' });
    p.sim = new AgentSimulator({
      url: p.url,
      enrollToken: enroll.token as string,
      count: AGENTS,
      modules: { nginx: '1.24.0' },
      failVersions: new Set(),
      applyDelayMs: 100,
      intervalMs: 200,
      namePrefix: `${p.name}-web`,
      logger: silentLogger,
    });
    p.sim.start();
    await p.sim.waitEnrolled(60_000);
  }

  const leg = (view: Obj, peer: string): Obj => (view.legs as Obj[]).find((l) => l.peer_name === peer)!;

  it('completes after the target comes back, with every batch started once', async () => {
    const hq = await start('hq', 'eu-west-1');
    const us = await start('us', 'us-east-1');
    const ap = await start('ap', 'ap-south-1');
    for (const target of [us, ap]) {
      const proposed = await tool(hq, 'propose_federation_peer', { name: target.name, spawn_mode: 'autonomous_peer' });
      await tool(target, 'accept_federation_peer', { parent_url: hq.url, acceptance_token: proposed.acceptance_token });
    }
    for (const p of [hq, us, ap]) await prepareFleet(p);

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
    await restartServed(children, us);

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
