// A Postgres store outlives its connections: backends killed with pg_terminate_backend (as a failover or
// an admin would) do not crash the process, fail at most the calls in flight with an error the store
// recognises as a lost connection (`unavailable` to a tool caller), and later calls work again.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { openStore, type Store } from '../../src/store/db.js';
import { isConnectionError } from '../../src/store/errors.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { createTestDatabase, TEST_DATABASE_URL } from '../helpers/store.js';

const DEADLINE_MS = 15_000;

/** Polls `check` until it returns true, failing after the deadline. No fixed sleeps: yields to I/O between polls. */
async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A pino logger whose lines are kept in memory. */
function capturingLogger(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/** Makes the pool open `n` connections at once (each transaction waits until all have started), then idle. */
async function openConnections(db: Kysely<Database>, n: number): Promise<void> {
  let started = 0;
  let allStarted!: () => void;
  const gate = new Promise<void>((resolve) => (allStarted = resolve));
  await Promise.all(
    Array.from({ length: n }, () =>
      db.transaction().execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        if (++started === n) allStarted();
        await gate;
      }),
    ),
  );
}

/** Either outcome is fine for a call racing a dropped connection, as long as a failure is a connection error. */
async function succeedsOrLosesConnection(promise: Promise<unknown>): Promise<boolean> {
  return promise.then(
    () => true,
    (err: unknown) => {
      if (!isConnectionError(err)) throw err;
      return false;
    },
  );
}

/**
 * Retries a query until it succeeds. The pool hands out an idle connection without probing it, so a
 * dead one may fail a query or two (with a connection error, never anything else) until the pool
 * has read the connection's end.
 */
async function recovers(query: () => Promise<unknown>): Promise<void> {
  await waitFor('a query to succeed again', () => succeedsOrLosesConnection(query()));
}

describe.runIf(TEST_DATABASE_URL !== undefined)('postgres store when its backends are terminated', () => {
  let admin: pg.Client;

  const backends = async (where: string, value: string): Promise<number[]> =>
    (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE ${where} = $1`, [value])).rows.map(
      (r) => r.pid,
    );
  const terminate = async (where: string, value: string): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${where} = $1 AND pid <> pg_backend_pid()`,
        [value],
      )
    ).rows.map((r) => r.pid);
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });
  afterAll(() => admin.end());

  describe('through the store', () => {
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let store: Store;
    let logs: ReturnType<typeof capturingLogger>;
    const appName = `flotilla_t_${randomBytes(4).toString('hex')}`;
    // A lost connection nobody listens to is thrown from an event emitter: the process would crash.
    // Vitest reports such errors too, but recording them here fails the test that caused them.
    const uncaught: unknown[] = [];
    const recordUncaught = (err: unknown): void => void uncaught.push(err);

    beforeAll(async () => {
      database = await createTestDatabase();
      logs = capturingLogger();
      store = await openStore(
        { kind: 'postgres', url: database.url },
        { logger: logs.logger, poolSize: 4, applicationName: appName },
      );
      await migrateToLatest(store.db);
      process.on('uncaughtException', recordUncaught);
    });
    afterEach(() => {
      logs.lines.splice(0);
      expect(uncaught.splice(0)).toEqual([]);
    });
    afterAll(async () => {
      process.off('uncaughtException', recordUncaught);
      await store.close();
      await database.drop();
    });

    it('logs idle connections it loses instead of crashing, and queries work again after', async () => {
      await openConnections(store.db, 4);
      expect(await backends('application_name', appName)).toHaveLength(4);

      const killed = await terminate('application_name', appName);
      expect(killed).toHaveLength(4);
      await succeedsOrLosesConnection(sql`SELECT 1`.execute(store.db)); // races the pool noticing

      // The pool's error listener hears of the idle connections dying; without it the process would crash.
      await waitFor('a "postgres connection lost" warning', () =>
        logs.lines.some((l) => l.msg === 'postgres connection lost'),
      );
      await recovers(() => sql`SELECT 1`.execute(store.db));
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => sql<{ n: number }>`SELECT ${i}::int AS n`.execute(store.db)),
      );
      expect(results.map((r) => r.rows[0]!.n)).toEqual([0, 1, 2, 3, 4, 5]);
      const fresh = await backends('application_name', appName);
      expect(fresh.length).toBeGreaterThan(0);
      expect(fresh.filter((pid) => killed.includes(pid))).toEqual([]);
    });

    it('fails a query whose backend is terminated mid-flight with an error isConnectionError recognises', async () => {
      const inFlight = sql`SELECT pg_sleep(30)`.execute(store.db).then(
        () => null,
        (err: unknown) => err,
      );
      await waitFor('the query to be running', async () => {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query ILIKE 'select pg_sleep%'`,
          [appName],
        );
        return rows.length === 1;
      });
      const killed = await terminate('application_name', appName);
      expect(killed.length).toBeGreaterThan(0);

      const err = await inFlight;
      expect(err).not.toBeNull();
      expect(isConnectionError(err)).toBe(true);
      await recovers(() => sql`SELECT 1`.execute(store.db));
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db);
      expect(rows).toEqual([{ one: 1 }]);
    });
  });

  describe('through a running platform', () => {
    let platform: TestPlatform;
    let databaseName: string;

    beforeAll(async () => {
      platform = await startTestPlatform('postgres');
      const { rows } = await sql<{ name: string }>`SELECT current_database() AS name`.execute(platform.store.db);
      databaseName = rows[0]!.name;
    });
    afterAll(() => platform.close());

    it('answers a tool call racing the loss with success or unavailable, never internal, then recovers', async () => {
      const client = await platform.memoryClient();
      await Promise.all([call(client, 'list_modules'), call(client, 'recent_events'), call(client, 'list_operators')]);

      const killed = await terminate('datname', databaseName);
      expect(killed.length).toBeGreaterThan(0);
      const racing = await Promise.all([call(client, 'list_modules'), call(client, 'recent_events')]);
      for (const res of racing) {
        if (res.isError) expect(res.error?.code).toBe('unavailable');
      }

      await waitFor('a tool call to succeed again', async () => {
        const res = await call(client, 'list_modules');
        if (res.isError) expect(res.error?.code).toBe('unavailable');
        return !res.isError;
      });
      for (const tool of ['list_modules', 'recent_events', 'list_operators']) {
        const res = await call(client, tool);
        expect(res.error).toBeUndefined();
        expect(res.isError).toBe(false);
      }
    });
  });
});
