// A throwaway Postgres database per benchmark: created empty on TEST_DATABASE_URL's server (default
// postgres://postgres@127.0.0.1:5432/test) and dropped at the end, like test/helpers/store.ts.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL =
  process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === ''
    ? 'postgres://postgres@127.0.0.1:5432/test'
    : process.env.TEST_DATABASE_URL;

export interface ThrowawayDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The server's version string, or null when it cannot be reached (Postgres benchmarks are then skipped). */
export async function postgresVersion(): Promise<string | null> {
  try {
    return await admin(
      async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v,
    );
  } catch {
    return null;
  }
}

/** Databases created and not yet dropped, so an interrupted run can still drop them. */
const live = new Set<ThrowawayDatabase>();

export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `flotilla_bench_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  // One drop at a time: an interrupted run's dropAll waits for a drop already under way instead of
  // exiting under it. The database stays listed until it is gone, and a failed drop can be retried.
  let dropping: Promise<void> | null = null;
  const database: ThrowawayDatabase = {
    url: url.toString(),
    name,
    drop() {
      // FORCE ends any connection still open on it (an interrupted run's pool).
      dropping ??= admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => {
          live.delete(database);
        },
        (err: unknown) => {
          dropping = null;
          throw err;
        },
      );
      return dropping;
    },
  };
  live.add(database);
  return database;
}

/** Drops every throwaway database still alive (on SIGINT). */
export async function dropAllThrowawayDatabases(): Promise<void> {
  await Promise.allSettled([...live].map((d) => d.drop()));
}
