// Crash safety with real processes on one real Postgres: two `flotilla serve` replicas tick the same
// rollout while a simulated fleet of agents heartbeats; one replica is SIGKILLed mid-rollout and
// restarted. The rollout still completes with every instance started exactly once, every batch started
// and completed exactly once, and no drift. Skipped without TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSimulator } from '../../src/agents/simulator.js';
import { createApp, type App } from '../../src/app.js';
import { ROLLING_UPGRADE_ACTION } from '../../src/domain/approvals.js';
import { ROLLING_UPGRADE_SKILL } from '../../src/domain/skills.js';
import { connectHttpClient } from '../../src/mcp/client.js';
import { ChildSet, cliEnv, TOKEN_PATTERN, type FlotillaChild } from '../helpers/cli.js';
import { waitFor } from '../helpers/fleet.js';
import { createTestDatabase, silentLogger, TEST_DATABASE_URL } from '../helpers/store.js';

const AGENTS = 30;
const digest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

describe.runIf(TEST_DATABASE_URL !== undefined)('a rollout across a replica crash on Postgres', () => {
  const children = new ChildSet();
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await children.killAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function serve(url: string): FlotillaChild {
    return children.start(
      [
        'serve',
        '--port',
        '0',
        '--database-url',
        url,
        '--tick-ms',
        '100',
        '--agent-heartbeat-ms',
        '200',
        '--log-level',
        'warn',
      ],
      { env: cliEnv() },
    );
  }

  async function listening(child: FlotillaChild): Promise<string> {
    const match = await child.waitForStdout(/MCP listening at (http:\/\/\S+)\/mcp/, 60_000);
    return match[1]!;
  }

  it('completes with every instance started once after one replica is killed and restarted', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());

    const first = serve(database.url);
    await listening(first);
    const token = (await first.waitForStdout(TOKEN_PATTERN))[0];
    const second = serve(database.url);
    const agentsUrl = await listening(second);

    // A third, in-process platform on the same database plans the rollout; it never ticks.
    const control: App = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'control',
        region: undefined,
        tickMs: 100,
        databaseUrl: database.url,
        allowedOrigins: [],
      },
      { logger: silentLogger, http: false, startReconciler: false },
    );
    cleanups.push(() => control.close());
    const { services } = control;
    const db = control.store.db;
    const admin = await services.operators.callerByName('admin');
    await services.policies.set(admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    await services.modules.publish(admin, { moduleName: 'nginx', version: '1.24.0', digest: digest(), draft: false });
    const target = (
      await services.modules.publish(admin, { moduleName: 'nginx', version: '1.26.0', digest: digest(), draft: false })
    ).version;
    const { token: enrollToken } = await services.fleet.createEnrollmentToken(admin, {
      group: { groupName: 'edge' },
      ttlSec: 3600,
      region: null,
      labels: {},
    });
    await services.fleet.assign(admin, {
      group: { groupName: 'edge' },
      module: { moduleName: 'nginx' },
      versionRef: '1.24.0',
    });

    const sim = new AgentSimulator({
      url: agentsUrl,
      enrollToken,
      count: AGENTS,
      modules: { nginx: '1.24.0' },
      failVersions: new Set(),
      applyDelayMs: 150,
      intervalMs: 100,
      namePrefix: 'edge',
      logger: silentLogger,
    });
    cleanups.push(() => sim.stop());
    sim.start();
    await sim.waitEnrolled(30_000);

    const plan = await services.skills.execute(
      admin,
      ROLLING_UPGRADE_SKILL,
      {
        group: 'edge',
        module_name: 'nginx',
        target_version_id: '1.26.0',
        batch_pct: 20,
        health_timeout_sec: 20,
      },
      false,
    );
    expect(plan).toMatchObject({ state: 'running', totalInstances: AGENTS, batchCount: 5, approvalRequestId: null });
    const id = plan.rolloutId!;

    const count = async (kind: string): Promise<number> => {
      const r = await sql<{ n: string }>`
        SELECT count(*) AS n FROM events WHERE kind = ${kind} AND payload ->> 'rollout_id' = ${id}`.execute(db);
      return Number(r.rows[0]!.n);
    };
    const stateOf = async (): Promise<string> =>
      (await db.selectFrom('rollouts').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state;

    await waitFor('the second batch to start', async () => (await count('module.upgrade.batch_started')) >= 2, 30_000);
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(await stateOf()).toBe('running'); // the crash really happened mid-rollout
    await listening(serve(database.url));

    await waitFor('the rollout to complete', async () => (await stateOf()) === 'completed', 60_000);

    const started = await sql<{ instance_id: string; n: string }>`
      SELECT payload ->> 'instance_id' AS instance_id, count(*) AS n FROM events
      WHERE kind = 'module.upgrade.instance_started' AND payload ->> 'rollout_id' = ${id}
      GROUP BY 1`.execute(db);
    expect(started.rows).toHaveLength(AGENTS);
    expect(started.rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    const targets = await db.selectFrom('rollout_targets').select('instance_id').where('rollout_id', '=', id).execute();
    expect(new Set(started.rows.map((r) => r.instance_id))).toEqual(new Set(targets.map((t) => t.instance_id)));

    const batches = async (kind: string): Promise<number[]> =>
      (
        await sql<{ batch_index: number }>`
          SELECT (payload ->> 'batch_index')::int AS batch_index FROM events
          WHERE kind = ${kind} AND payload ->> 'rollout_id' = ${id} ORDER BY id`.execute(db)
      ).rows.map((r) => r.batch_index);
    expect(await batches('module.upgrade.batch_started')).toEqual([0, 1, 2, 3, 4]);
    expect(await batches('module.upgrade.batch_completed')).toEqual([0, 1, 2, 3, 4]);
    expect(await count('module.upgrade.circuit_breaker_tripped')).toBe(0);
    const finished = await services.rollouts.get(id);
    expect(finished.rollout).toMatchObject({ state: 'completed', healthyTotal: AGENTS, failedTotal: 0 });

    await waitFor('every agent to run the target', () => sim.stats.applied >= AGENTS, 15_000);
    const client = await connectHttpClient(agentsUrl, token);
    cleanups.push(() => client.close());
    const drift = await client.callTool('drift_report', { group: 'edge' });
    expect(drift.isError).toBe(false);
    expect(drift.structured).toMatchObject({ drift: false, instance_count: AGENTS, drifted_count: 0 });
    expect(target.digest).toMatch(/^sha256:/);
  }, 180_000);
});
