// Runs the migrations in top-level migrations/ in name order. Kysely's Migrator takes a Postgres
// advisory lock around the run, so replicas starting together on one database migrate exactly once.
import fs from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import type { Database } from './database.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(this.folder)).filter((f) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(f)).sort();
    const out: Record<string, Migration> = {};
    for (const file of files) {
      out[file.replace(/\.(ts|js)$/, '')] = (await import(
        pathToFileURL(path.join(this.folder, file)).href
      )) as Migration;
    }
    return out;
  }
}

export interface MigrateOutcome {
  applied: string[];
}

/** Brings the store to the newest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Database>, folder = MIGRATIONS_DIR): Promise<MigrateOutcome> {
  const migrator = new Migrator({ db, provider: new FolderMigrationProvider(folder) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r: MigrationResult) => r.status === 'Error');
  if (error !== undefined) {
    const name = failed?.migrationName ?? 'unknown';
    throw new Error(`migration ${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
