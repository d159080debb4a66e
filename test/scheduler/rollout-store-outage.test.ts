// Health is judged only on time the store was reachable: a rolling upgrade whose store is cut off (through
// a TCP hop in front of Postgres) for longer than health_timeout_sec mid-batch completes without a breaker
// trip once the store is back and the agents heartbeat again — also when the platform restarts during the
// outage — while an instance that stays silent for health_timeout_sec of reachable time still fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { openStore, type Store } from '../../src/store/db.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { FleetScenario, makeCrew, rolloutEvents, tick, type Crew } from '../helpers/rollouts.js';
import { createTestDatabase, silentLogger, TEST_DATABASE_URL } from '../helpers/store.js';
import { StoreProxy } from '../helpers/store-proxy.js';

const HEALTH_TIMEOUT_SEC = 60;
const TICK_MS = 10_000;

describe.runIf(TEST_DATABASE_URL !== undefined)('rolling upgrades across a store outage on postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: StoreProxy;
  let store: Store;
  let platform: TestPlatform;
  let crew: Crew;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await StoreProxy.start(database.url);
    store = await openStore({ kind: 'postgres', url: proxy.through(database.url) }, { logger: silentLogger });
    platform = await startTestPlatform('postgres', { store });
    crew = await makeCrew(platform);
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await platform.close();
    await store.close();
    await proxy.close();
    await database.drop();
  });

  const rollout = async (id: string) => (await platform.app.services.rollouts.get(id)).rollout;

  /** Four instances in two batches of two; the first batch is started and in flight. */
  async function batchInFlight(name: string, inputs: Record<string, unknown> = {}) {
    const fleet = await FleetScenario.create(platform, crew, name, 4);
    const plan = await fleet.planApproved({ batch_pct: 50, health_timeout_sec: HEALTH_TIMEOUT_SEC, ...inputs });
    await tick(platform);
    platform.clock.advance(TICK_MS);
    await tick(platform);
    return { fleet, plan, id: plan.rolloutId! };
  }

  /** The store unreachable for three health timeouts, the reconciler ticking (and failing) all along. */
  async function outage(app: App = platform.app): Promise<void> {
    proxy.cut();
    for (let elapsed = 0; elapsed < 3 * HEALTH_TIMEOUT_SEC * 1000; elapsed += TICK_MS) {
      platform.clock.advance(TICK_MS);
      expect((await app.reconciler.tickOnce()).failed).toContain('rollouts');
    }
    proxy.restore();
    platform.clock.advance(TICK_MS);
  }

  /** Beats and ticks until the rollout leaves `running` (or `rounds` run out). */
  async function runOn(fleet: FleetScenario, id: string, beating?: () => string[], rounds = 20): Promise<void> {
    for (let i = 0; i < rounds && (await rollout(id)).state === 'running'; i++) {
      await fleet.beat(beating?.());
      platform.clock.advance(TICK_MS);
      await tick(platform);
    }
  }

  it('completes without a breaker trip when the store was unreachable longer than health_timeout_sec', async () => {
    const { fleet, id } = await batchInFlight('outage');
    await outage();
    // The first tick after recovery comes before any agent could heartbeat again.
    await tick(platform);
    expect(await rollout(id)).toMatchObject({ state: 'running', failedTotal: 0 });

    await runOn(fleet, id);
    expect(await rollout(id)).toMatchObject({ state: 'completed', healthyTotal: 4, failedTotal: 0 });
    expect(await rolloutEvents(platform, id, 'circuit_breaker_tripped')).toEqual([]);
  });

  it('credits the outage once when the platform restarts while its store is unreachable', async () => {
    const { fleet, id } = await batchInFlight('restart');
    await outage();
    // The process that saw the outage is gone; a new one on the same store ticks first.
    const restarted = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'restarted',
        region: 'eu-west',
        tickMs: TICK_MS,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, clock: platform.clock, logger: silentLogger, startReconciler: false, http: false },
    );
    closers.push(() => restarted.close());
    expect((await restarted.reconciler.tickOnce()).failed).toEqual([]);
    await tick(platform);
    expect(await rollout(id)).toMatchObject({ state: 'running', failedTotal: 0 });

    await runOn(fleet, id);
    expect(await rollout(id)).toMatchObject({ state: 'completed', failedTotal: 0 });
    expect(await rolloutEvents(platform, id, 'circuit_breaker_tripped')).toEqual([]);
  });

  it('still fails an instance that stays silent for health_timeout_sec of reachable time', async () => {
    const { fleet, plan, id } = await batchInFlight('silent', { max_consecutive_failures: 1 });
    const [silent, ...others] = plan.batches[0]!.instanceIds;
    await runOn(fleet, id, () => others);
    expect(await rollout(id)).toMatchObject({ state: 'circuit_open', failedTotal: 1 });
    const [tripped] = await rolloutEvents(platform, id, 'circuit_breaker_tripped');
    expect(tripped?.payload).toMatchObject({ batch_index: 0, failed_instance_ids: [silent] });
  });

  it('still fails an instance that stays silent for its window after the store came back', async () => {
    const { fleet, plan, id } = await batchInFlight('silent-after', { max_consecutive_failures: 1 });
    const [silent, ...others] = plan.batches[0]!.instanceIds;
    await outage();
    await runOn(fleet, id, () => others);
    expect(await rollout(id)).toMatchObject({ state: 'circuit_open', failedTotal: 1 });
    const [tripped] = await rolloutEvents(platform, id, 'circuit_breaker_tripped');
    expect(tripped?.payload).toMatchObject({ batch_index: 0, failed_instance_ids: [silent] });
  });
});
