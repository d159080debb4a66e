// Opens the store named by DATABASE_URL: Postgres through `pg`, or embedded PGlite through its own
// `pg` adapter under Kysely's PostgresDialect (the one combination that behaves like Postgres).
// Owns the PGlite folder lock, keeps the folder private (0700, files 0600) and closes everything it
// opened. Knows nothing of tables.
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { InvalidInputError } from '../errors.js';
import type { Database } from './database.js';
import { acquireFolderLock } from './folder-lock.js';
import { tightenDataFolder } from './folder-permissions.js';

export type StoreKind = 'postgres' | 'pglite';

export type StoreLocation =
  { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string | null /* null: in memory */ };

export interface Store {
  db: Kysely<Database>;
  kind: StoreKind;
  /** Where the data lives, with any password removed: safe to log and show. */
  describe: string;
  close(): Promise<void>;
}

export const DEFAULT_DATA_DIR = './.flotilla/data';

/**
 * A statement whose text starts with `/* prepared:NAME *\/` is sent as the named prepared statement
 * NAME: each connection parses it once and reuses it, where other statements are parsed and planned
 * per execution. For hot statements of constant text only (the heartbeat batch): a name is bound to
 * one text per connection.
 */
export const PREPARED_MARK = '/* prepared:';

/** Makes `client` send marked statements (PREPARED_MARK) by name; Kysely passes only text and values. */
function prepareMarkedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (config: unknown, values?: unknown, callback?: unknown) => unknown;
  (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown): unknown => {
    if (typeof config === 'string' && config.startsWith(PREPARED_MARK)) {
      const end = config.indexOf(' */', PREPARED_MARK.length);
      if (end > 0) return query({ name: config.slice(PREPARED_MARK.length, end), text: config, values }, callback);
    }
    return query(config, values, callback);
  };
}

/** Parses DATABASE_URL: unset → PGlite at ./.flotilla/data; pglite://memory; pglite://PATH; postgres://… */
export function parseDatabaseUrl(url: string | undefined): StoreLocation {
  if (url === undefined) return { kind: 'pglite', dataDir: DEFAULT_DATA_DIR };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url };
  if (url.startsWith('pglite://')) {
    const rest = url.slice('pglite://'.length);
    if (rest === '') throw new InvalidInputError('DATABASE_URL pglite:// needs a folder or "memory"');
    return { kind: 'pglite', dataDir: rest === 'memory' ? null : rest };
  }
  throw new InvalidInputError('DATABASE_URL must start with postgres://, postgresql:// or pglite://');
}

/** Removes a password from a Postgres URL for display. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

export interface OpenStoreOptions {
  logger: Logger;
  /** Pool size for Postgres; PGlite is always one connection. */
  poolSize?: number;
  applicationName?: string;
}

export async function openStore(location: StoreLocation, options: OpenStoreOptions): Promise<Store> {
  return location.kind === 'postgres' ? openPostgres(location.url, options) : openPglite(location.dataDir, options);
}

function openPostgres(url: string, options: OpenStoreOptions): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'flotilla',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client whose backend dies emits here; without a listener the process would crash.
  // The pool drops that client and the next checkout opens a fresh connection.
  pool.on('error', (err) => options.logger.warn({ err: { message: err.message } }, 'postgres connection lost'));
  // A client whose backend dies while checked out emits 'error' on itself, where the pool does not
  // listen: unheard, that crashes the process. Its query already fails with the error, so only note it.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.logger.debug({ err: { message: err.message } }, 'postgres connection lost'));
    prepareMarkedStatements(client);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', describe: redactUrl(url), close: () => db.destroy() };
}

/**
 * Tightens a data folder before PGlite opens it, and logs one warning naming what was open to other users:
 * the folder is 0700 before PGlite writes a file in it.
 */
function privateDataFolder(dataDir: string, logger: Logger): void {
  const existed = fs.existsSync(dataDir);
  const repaired = tightenDataFolder(dataDir);
  if (existed && repaired.folders + repaired.files > 0) {
    logger.warn(
      { dataDir, folders: repaired.folders, files: repaired.files },
      `data folder ${dataDir} was open to other users: made ${repaired.folders} folder(s) 0700 and ${repaired.files} file(s) 0600`,
    );
  }
}

async function openPglite(dataDir: string | null, options: OpenStoreOptions): Promise<Store> {
  const lock = dataDir === null ? null : acquireFolderLock(dataDir);
  let pglite: PGlite;
  try {
    if (dataDir !== null) privateDataFolder(dataDir, options.logger);
    pglite = dataDir === null ? new PGlite() : new PGlite(path.resolve(dataDir));
    await pglite.waitReady;
    // PGlite writes its files 0666 (inside the 0700 folder): make them 0600 now, and again at close.
    if (dataDir !== null) tightenDataFolder(dataDir);
  } catch (err) {
    lock?.release();
    throw err;
  }
  // One connection, never closed while idle: PGlite is a single session.
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0 });
  pool.on('error', (err) => options.logger.error({ err }, 'pglite connection error'));
  pool.on('connect', prepareMarkedStatements);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'pglite',
    describe: dataDir === null ? 'pglite://memory' : `pglite://${dataDir}`,
    async close() {
      try {
        await db.destroy();
        await pglite.close();
        // Files PGlite created while it ran (WAL segments) were 0666 inside the 0700 folder.
        if (dataDir !== null) tightenDataFolder(dataDir);
      } finally {
        lock?.release();
      }
    },
  };
}
