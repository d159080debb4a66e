// DeploymentSharesService on the platform that runs shares, over the real store: a share claims instances
// (already on its version: pinned, no rollout), another deployment of the same module and version never
// counts or takes them, applying again changes nothing, a deleted deployment's claims are forgotten with
// what runs left in place, and shares applied at once in concurrent transactions never claim one instance
// twice (on Postgres the transactions really overlap; PGlite has one connection and runs them in turn).
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentSharesService, type ShareArgs } from '../../src/services/deployment-shares-service.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { FleetScenario, makeCrew, type Crew } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('deployment shares on %s', (kind) => {
  let platform: TestPlatform;
  let crew: Crew;
  let shares: DeploymentSharesService;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    crew = await makeCrew(platform);
    shares = new DeploymentSharesService(platform.app.services.rollouts);
  });
  afterAll(() => platform.close());

  const share = (fleet: FleetScenario, name: string, replicas: number): ShareArgs => ({
    federated_deployment_id: randomUUID(),
    name,
    module_name: fleet.module,
    version: fleet.old.version,
    group: fleet.group,
    replicas,
    rollout: { strategy: { type: 'batch', batch_pct: 50 }, max_consecutive_failures: 2, health_timeout_sec: 300 },
  });
  const apply = (args: ShareArgs) =>
    platform.store.db.transaction().execute((trx) => shares.apply(trx, crew.admin, args, null, platform.clock.now()));
  /** Claimed instance ids per deployment id. */
  const claims = async (): Promise<Map<string, string[]>> => {
    const rows = await platform.store.db
      .selectFrom('federated_deployment_assignments')
      .select(['federated_deployment_id', 'instance_id'])
      .orderBy('instance_id')
      .execute();
    const out = new Map<string, string[]>();
    for (const r of rows)
      out.set(r.federated_deployment_id, [...(out.get(r.federated_deployment_id) ?? []), r.instance_id]);
    return out;
  };
  const rolloutCount = async () =>
    Number(
      (
        await platform.store.db
          .selectFrom('rollouts')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('claims instances already on the version without a rollout; a second deployment never counts them', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'adopt', 4);
    const rolloutsBefore = await rolloutCount();
    const first = share(fleet, 'first', 3);
    const applied = await apply(first);
    // On the version through the group's baseline: pinned to it, counted, no rolling upgrade.
    expect(applied).toMatchObject({ assigned: 3, running_healthy: 3, drifted: 0, upgrading: 0, assigned_now: 3 });
    expect(applied.rollout_id).toBeNull();
    expect(await rolloutCount()).toBe(rolloutsBefore);

    const second = share(fleet, 'second', 3);
    // One instance is left for it: it is short, and does not count the first one's three.
    expect(await apply(second)).toMatchObject({ assigned: 1, assigned_now: 1 });
    const [mine, theirs] = [
      (await claims()).get(first.federated_deployment_id)!,
      (await claims()).get(second.federated_deployment_id)!,
    ];
    expect(mine).toHaveLength(3);
    expect(theirs).toHaveLength(1);
    expect(mine).not.toContain(theirs[0]);
    expect(await shares.reports(platform.store.db, [first, second])).toEqual([
      { assigned: 3, running_healthy: 3, drifted: 0, upgrading: 0 },
      { assigned: 1, running_healthy: 1, drifted: 0, upgrading: 0 },
    ]);

    // Applying the same share again takes and gives back nothing.
    expect(await apply(first)).toMatchObject({ assigned: 3, assigned_now: 0, released_now: 0 });

    // Deleting the first: its claims are forgotten, its instances keep their pinned version, and the
    // second takes two of them over on its next apply.
    const forgotten = await platform.store.db
      .transaction()
      .execute((trx) => shares.forget(trx, crew.admin, first, null, platform.clock.now()));
    expect(forgotten).toEqual({ forgotten: 3 });
    const pinned = await platform.store.db
      .selectFrom('instance_desired_versions')
      .select('instance_id')
      .where('instance_id', 'in', mine)
      .where('version_id', '=', fleet.old.id)
      .execute();
    expect(pinned).toHaveLength(3);
    expect(await apply(second)).toMatchObject({ assigned: 3, assigned_now: 2 });
    expect((await claims()).has(first.federated_deployment_id)).toBe(false);
    expect(await shares.reports(platform.store.db, [first])).toEqual([
      { assigned: 0, running_healthy: 0, drifted: 0, upgrading: 0 },
    ]);
  });

  it('reports null for a share whose group, module or version does not exist here', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'unknown', 1);
    const ok = share(fleet, 'ok', 1);
    const reports = await shares.reports(platform.store.db, [
      { ...ok, group: 'no-such-group' },
      ok,
      { ...ok, module_name: 'no-such-module' },
      { ...ok, version: '9.9.9' },
    ]);
    expect(reports).toEqual([null, { assigned: 0, running_healthy: 0, drifted: 0, upgrading: 0 }, null, null]);
  });

  it('never claims one instance for two deployments applied at once', async () => {
    const fleet = await FleetScenario.create(platform, crew, 'race', 5);
    const racing = Array.from({ length: 4 }, (_, i) => share(fleet, `race-${i}`, 3));
    // On Postgres every transaction has begun (and holds its snapshot's connection) before any applies, so
    // each picks from the same free instances; PGlite's one connection runs them one after another.
    let begun = 0;
    let allBegun: () => void = () => undefined;
    const start = new Promise<void>((resolve) => (allBegun = resolve));
    const applied = await Promise.all(
      racing.map((args) =>
        platform.store.db.transaction().execute(async (trx) => {
          if (kind === 'postgres') {
            await sql`SELECT 1`.execute(trx);
            begun += 1;
            if (begun === racing.length) allBegun();
            await start;
          }
          return shares.apply(trx, crew.admin, args, null, platform.clock.now());
        }),
      ),
    );
    const claimed = await claims();
    const all = racing.flatMap((s) => claimed.get(s.federated_deployment_id) ?? []);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(5);
    // What each apply reported is what it claimed.
    expect(applied.map((a) => a.assigned)).toEqual(
      racing.map((s) => (claimed.get(s.federated_deployment_id) ?? []).length),
    );
    const reported = await shares.reports(platform.store.db, racing);
    expect(reported.reduce((n, r) => n + r!.assigned, 0)).toBe(5);
  });
});
