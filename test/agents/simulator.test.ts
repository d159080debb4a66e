// The agent simulator as a real fleet: against an in-process platform it enrolls, reports published
// digests, applies assigned versions after its delay and fails health for chosen versions; against a
// real `flotilla serve` child it rides out a platform crash and resumes on the same instances.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentSimulator, type SimulatorOptions } from '../../src/agents/simulator.js';
import { connectHttpClient, type FlotillaClient } from '../../src/mcp/client.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { ChildSet, cliEnv, freePort, makeTempDir, TOKEN_PATTERN, type TempDir } from '../helpers/cli.js';
import { digest, enrollmentTokenFor, listAllInstances, publish, waitFor, type InstanceView } from '../helpers/fleet.js';
import { silentLogger, STORE_KINDS } from '../helpers/store.js';

const A = digest('a'); // nginx 1.24.0
const B = digest('b'); // nginx 1.26.0

function simulator(url: string, enrollToken: string, options: Partial<SimulatorOptions>): AgentSimulator {
  return new AgentSimulator({
    url,
    enrollToken,
    count: 1,
    modules: { nginx: '1.24.0' },
    failVersions: new Set(),
    applyDelayMs: 0,
    intervalMs: 50,
    namePrefix: 'sim',
    logger: silentLogger,
    ...options,
  });
}

describe.each(STORE_KINDS)('agent simulator on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;
  const running: AgentSimulator[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    await publish(admin, 'nginx', '1.24.0', A);
    await publish(admin, 'nginx', '1.26.0', B);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  afterAll(() => platform.close());

  function start(enrollToken: string, options: Partial<SimulatorOptions>): AgentSimulator {
    const sim = simulator(url, enrollToken, options);
    running.push(sim);
    sim.start();
    return sim;
  }

  it('enrolls 20 agents that report the published digest of their version, then apply an assigned one', async () => {
    const t = await enrollmentTokenFor(admin, 'sim-fleet');
    const applyDelayMs = 500;
    const sim = start(t.token, { count: 20, namePrefix: 'web', applyDelayMs });
    await sim.waitEnrolled(15_000);

    const on124 = await waitFor('20 instances running nginx 1.24.0', async () => {
      const list = await listAllInstances(admin, { group: 'sim-fleet', module_name: 'nginx', version: '1.24.0' });
      return list.length === 20 && list;
    });
    expect(new Set(on124.map((i) => i.name)).size).toBe(20);
    expect(on124.every((i) => i.health === 'ok' && i.running_module_digests.nginx === A)).toBe(true);
    expect(sim.stats).toMatchObject({ agents: 20, enrolled: 20, healthy: 20, failed: 0, applied: 0 });

    const assignedAt = Date.now();
    const assigned = await call(admin, 'assign_module_version', {
      group: 'sim-fleet',
      module_name: 'nginx',
      version_id: '1.26.0',
    });
    expect(assigned.isError).toBe(false);
    // No agent applies before applyDelayMs has passed since it heard of the assignment.
    const early = await listAllInstances(admin, { group: 'sim-fleet', module_name: 'nginx', version: '1.26.0' });
    if (Date.now() - assignedAt < applyDelayMs) {
      expect(early).toEqual([]);
      expect((await call(admin, 'drift_report', { group: 'sim-fleet' })).data).toMatchObject({
        drift: true,
        drifted_count: 20,
      });
    }

    await waitFor('20 instances running nginx 1.26.0', async () => {
      const list = await listAllInstances(admin, { group: 'sim-fleet', module_name: 'nginx', version: '1.26.0' });
      return list.length === 20;
    });
    expect(Date.now() - assignedAt).toBeGreaterThanOrEqual(applyDelayMs);
    expect(sim.stats.applied).toBe(20);
    const drift = await call(admin, 'drift_report', { group: 'sim-fleet' });
    expect(drift.data).toMatchObject({ drift: false, instance_count: 20, drifted_count: 0, instances: [] });
    const all = await listAllInstances(admin, { group: 'sim-fleet' });
    expect(all.map((i) => i.running_module_digests)).toEqual(all.map(() => ({ nginx: B })));
  });

  it('keeps looking up a version that is not yet published, and reports it once it is', async () => {
    const t = await enrollmentTokenFor(admin, 'sim-early');
    const sim = start(t.token, { count: 2, namePrefix: 'early', modules: { nginx: '1.25.0' } });
    await waitFor('the lookup to fail', () => sim.stats.lastError?.includes('nginx=1.25.0'));
    expect(sim.stats.enrolled).toBe(0);
    await publish(admin, 'nginx', '1.25.0', digest('f'));
    await sim.waitEnrolled(15_000);
    await waitFor('2 instances running nginx 1.25.0', async () => {
      const list = await listAllInstances(admin, { group: 'sim-early', module_name: 'nginx', version: '1.25.0' });
      return list.length === 2;
    });
  });

  it('reports health failed once it runs a --fail-version', async () => {
    const t = await enrollmentTokenFor(admin, 'sim-canary');
    const sim = start(t.token, { count: 3, namePrefix: 'canary', failVersions: new Set(['nginx=1.26.0']) });
    await sim.waitEnrolled(15_000);
    await waitFor('3 healthy canaries on 1.24.0', async () => {
      const list = await listAllInstances(admin, { group: 'sim-canary', module_name: 'nginx', version: '1.24.0' });
      return list.length === 3 && list.every((i) => i.health === 'ok');
    });

    await call(admin, 'assign_module_version', { group: 'sim-canary', module_name: 'nginx', version_id: '1.26.0' });
    const failed = await waitFor('3 failed canaries on 1.26.0', async () => {
      const list = await listAllInstances(admin, { group: 'sim-canary' });
      return list.every((i) => i.health === 'failed') && list;
    });
    expect(failed.map((i) => i.running_module_digests.nginx)).toEqual([B, B, B]);
    expect(sim.stats).toMatchObject({ failed: 3, healthy: 0 });
  });

  it('reports health failed from the start when it starts on a --fail-version', async () => {
    const t = await enrollmentTokenFor(admin, 'sim-bad-start');
    const sim = start(t.token, { count: 2, namePrefix: 'bad', failVersions: new Set(['nginx=1.24.0']) });
    await sim.waitEnrolled(15_000);
    await waitFor('2 failed instances', async () => {
      const list = await listAllInstances(admin, { group: 'sim-bad-start' });
      return list.length === 2 && list.every((i) => i.health === 'failed');
    });
    expect(sim.stats).toMatchObject({ failed: 2, healthy: 0 });
  });
});

describe('agent simulator across a platform restart', () => {
  const children = new ChildSet();
  let tmp: TempDir;
  let sim: AgentSimulator | null = null;
  let client: FlotillaClient | null = null;

  beforeAll(() => {
    tmp = makeTempDir('flotilla-sim-restart-');
  });
  afterEach(async () => {
    await client?.close().catch(() => undefined);
    await sim?.stop();
    await children.killAll();
  });
  afterAll(() => tmp.remove());

  async function tool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await client!.callTool(name, args);
    if (res.isError) throw new Error(`${name}: ${res.text}`);
    return res.structured as Record<string, unknown>;
  }

  async function instances(): Promise<InstanceView[]> {
    return (await tool('list_instances', { group: 'restart', limit: 500 })).instances as InstanceView[];
  }

  it('keeps agents retrying while the platform is down and resumes on the same instances after', async () => {
    const port = await freePort();
    const args = [
      'serve',
      '--port',
      String(port),
      '--database-url',
      tmp.pgliteUrl(),
      '--agent-heartbeat-ms',
      '200',
      '--log-level',
      'warn',
    ];
    const first = children.start(args, { env: cliEnv() });
    const [, token] = await first.waitForStdout(new RegExp(`shown only this once:\\s*(${TOKEN_PATTERN.source})`));
    const [, url] = await first.waitForStdout(/MCP listening at (http:\/\/\S+)\/mcp/);
    expect(url).toBe(`http://127.0.0.1:${port}`);

    client = await connectHttpClient(url!, token!);
    await tool('publish_module_version', { module_name: 'nginx', version: '1.24.0', digest: A });
    const enrollToken = (await tool('create_enrollment_token', { group: 'restart' })).token as string;

    // No intervalMs: agents keep the 200 ms the platform tells them at enrollment.
    sim = new AgentSimulator({
      url: url!,
      enrollToken,
      count: 5,
      modules: { nginx: '1.24.0' },
      failVersions: new Set(),
      applyDelayMs: 0,
      namePrefix: 'rs',
      logger: silentLogger,
    });
    sim.start();
    await sim.waitEnrolled(20_000);
    await waitFor('every agent heartbeating', async () => {
      const list = await instances();
      return list.length === 5 && list.every((i) => i.running_module_digests.nginx === A);
    });
    const before = new Map((await instances()).map((i) => [i.id, Date.parse(i.last_heartbeat_at!)]));
    await client.close();
    client = null;

    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const errorsAtKill = sim.stats.heartbeatErrors;
    await waitFor('agents to keep retrying', () => sim!.stats.heartbeatErrors >= errorsAtKill + 10, 20_000);
    expect(sim.isStopped).toBe(false);
    expect(sim.stats.lastError).toMatch(/platform unreachable/);
    const okWhileDown = sim.stats.heartbeatsOk;

    const second = children.start(args, { env: cliEnv() });
    await second.waitForStdout(/MCP listening at /);
    expect(second.stdout).not.toMatch(/shown only this once/);
    await waitFor('heartbeats to resume', () => sim!.stats.heartbeatsOk >= okWhileDown + 10, 30_000);

    client = await connectHttpClient(url!, token!);
    const after = await waitFor(
      'every instance to heartbeat again',
      async () => {
        const list = await instances();
        return (
          list.every((i) => Date.parse(i.last_heartbeat_at!) > before.get(i.id)! && i.status === 'running') && list
        );
      },
      20_000,
    );
    expect(after.map((i) => i.id).sort()).toEqual([...before.keys()].sort());
    const reenrolled = (await tool('recent_events', { kind_prefix: 'agent.reenrolled' })).events as unknown[];
    expect(reenrolled).toEqual([]);
    expect(sim.stats.enrolled).toBe(5);

    await client.close();
    client = null;
    const stopped = await second.stop('SIGTERM');
    expect(stopped.code).toBe(0);
  }, 180_000);
});
