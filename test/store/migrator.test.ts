// Migrations: replicas migrating one fresh Postgres at the same moment apply each migration exactly
// once, and migrating an up-to-date store applies nothing.
import fs from 'node:fs';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
import { migrateToLatest, MIGRATIONS_DIR } from '../../src/store/migrator.js';
import { createTestDatabase, openTestStore, silentLogger, STORE_KINDS, TEST_DATABASE_URL } from '../helpers/store.js';

/** The migration names in the repository, in the order they apply. */
const MIGRATION_NAMES = fs
  .readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(f))
  .map((f) => f.replace(/\.(ts|js)$/, ''))
  .sort();

async function recordedMigrations(store: Store): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db);
  return rows.map((r) => r.name);
}

describe.each(STORE_KINDS)('migrations on %s', (kind) => {
  let store: Store;

  beforeAll(async () => {
    store = await openTestStore(kind, { migrate: false });
  });
  afterAll(() => store.close());

  it('applies every migration in name order on a fresh store', async () => {
    expect(MIGRATION_NAMES.length).toBeGreaterThan(0);
    expect((await migrateToLatest(store.db)).applied).toEqual(MIGRATION_NAMES);
    expect(await recordedMigrations(store)).toEqual(MIGRATION_NAMES);
  });

  it('applies nothing on an up-to-date store', async () => {
    expect((await migrateToLatest(store.db)).applied).toEqual([]);
    expect(await recordedMigrations(store)).toEqual(MIGRATION_NAMES);
  });
});

describe.runIf(TEST_DATABASE_URL !== undefined)('replicas migrating one fresh Postgres together', () => {
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it.each([2, 4])('%i stores migrating at once all succeed and apply each migration exactly once', async (replicas) => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const stores = await Promise.all(
      Array.from({ length: replicas }, () =>
        openStore({ kind: 'postgres', url: database.url }, { logger: silentLogger, poolSize: 2 }),
      ),
    );
    cleanups.push(async () => {
      await Promise.all(stores.map((s) => s.close()));
    });

    const outcomes = await Promise.all(stores.map((s) => migrateToLatest(s.db)));

    expect(outcomes.flatMap((o) => o.applied).sort()).toEqual(MIGRATION_NAMES);
    expect(await recordedMigrations(stores[0]!)).toEqual(MIGRATION_NAMES);
    for (const s of stores) expect((await migrateToLatest(s.db)).applied).toEqual([]);
  });
});
