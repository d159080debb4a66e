// Real stores for tests: PGlite in memory always, and a fresh Postgres database per call when
// TEST_DATABASE_URL is set (dropped on close). Never a mock.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { openStore, type Store, type StoreKind } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrator.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL === '' ? undefined : process.env.TEST_DATABASE_URL;

/** The store kinds every store test runs on. */
export const STORE_KINDS: StoreKind[] = TEST_DATABASE_URL === undefined ? ['pglite'] : ['pglite', 'postgres'];

export const silentLogger = pino({ level: 'silent' });

/** Creates an empty Postgres database and returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (TEST_DATABASE_URL === undefined) throw new Error('TEST_DATABASE_URL is not set');
  const name = `flotilla_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** An empty store of `kind`; `migrate` (default true) brings it to the newest schema. */
export async function openTestStore(kind: StoreKind, opts: { migrate?: boolean } = {}): Promise<Store> {
  let store: Store;
  if (kind === 'pglite') {
    store = await openStore({ kind: 'pglite', dataDir: null }, { logger: silentLogger });
  } else {
    const database = await createTestDatabase();
    const opened = await openStore({ kind: 'postgres', url: database.url }, { logger: silentLogger, poolSize: 5 });
    store = {
      ...opened,
      async close() {
        await opened.close();
        await database.drop();
      },
    };
  }
  if (opts.migrate !== false) await migrateToLatest(store.db);
  return store;
}
