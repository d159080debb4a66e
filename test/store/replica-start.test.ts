// Platform start-up against one fresh Postgres: replicas starting together all come up, share one
// platform identity, and only one of them creates (and shows the token of) the bootstrap admin.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { createTestDatabase, silentLogger, TEST_DATABASE_URL } from '../helpers/store.js';

describe.runIf(TEST_DATABASE_URL !== undefined)('replicas starting together on one fresh Postgres', () => {
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('all start, with one platform id and exactly one bootstrap admin', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const start = (name: string): Promise<App> =>
      createApp(
        {
          host: '127.0.0.1',
          port: 0,
          name,
          region: undefined,
          tickMs: 5000,
          databaseUrl: database.url,
          allowedOrigins: [],
        },
        { logger: silentLogger, clock: new ManualClock(), http: false, startReconciler: false },
      );

    const outcomes = await Promise.allSettled([start('replica-a'), start('replica-b'), start('replica-c')]);
    const apps = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    cleanups.push(async () => {
      await Promise.all(apps.map((a) => a.close()));
    });
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason)).toEqual([]);

    expect(new Set(apps.map((a) => a.platformId)).size).toBe(1);
    expect(apps.filter((a) => a.bootstrap !== null)).toHaveLength(1);
    const { rows } = await sql<{ name: string; role: string }>`SELECT name, role FROM operators`.execute(
      apps[0]!.store.db,
    );
    expect(rows).toEqual([{ name: 'admin', role: 'admin' }]);
    const token = apps.find((a) => a.bootstrap !== null)!.bootstrap!.token;
    for (const app of apps) expect(await app.services.operators.authenticate(token)).toMatchObject({ name: 'admin' });
  });
});
