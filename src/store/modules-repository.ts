// Modules and their versions. Plain functions taking `db` or `trx` first; rows map to domain objects.
import type { LifecycleState } from '../domain/lifecycle.js';
import type { Module, ModuleVersion } from '../domain/types.js';
import type { Db } from './executor.js';

interface VersionRow {
  id: string;
  module_id: string;
  module_name: string;
  version: string;
  digest: string;
  lifecycle_state: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

function toVersion(row: VersionRow): ModuleVersion {
  return {
    id: row.id,
    moduleId: row.module_id,
    moduleName: row.module_name,
    version: row.version,
    digest: row.digest,
    lifecycleState: row.lifecycle_state as LifecycleState,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toModule(row: { id: string; name: string; created_by: string; created_at: Date }): Module {
  return { id: row.id, name: row.name, createdBy: row.created_by, createdAt: row.created_at };
}

const MODULE_COLUMNS = ['id', 'name', 'created_by', 'created_at'] as const;

/** Creates the module if it is new; returns it either way. */
export async function upsertModule(db: Db, name: string, createdBy: string, at: Date): Promise<Module> {
  await db
    .insertInto('modules')
    .values({ name, created_by: createdBy, created_at: at })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return toModule(
    await db.selectFrom('modules').select(MODULE_COLUMNS).where('name', '=', name).executeTakeFirstOrThrow(),
  );
}

export async function findModule(db: Db, by: { id: string } | { name: string }): Promise<Module | null> {
  let q = db.selectFrom('modules').select(MODULE_COLUMNS);
  q = 'id' in by ? q.where('id', '=', by.id) : q.where('name', '=', by.name);
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toModule(row);
}

export interface ModuleSummaryRow extends Module {
  versionCount: number;
  latestVersion: string | null;
}

/** Modules by name after `afterName`, with version counts; limit + 1 rows. */
export async function listModules(db: Db, opts: { limit: number; afterName?: string }): Promise<ModuleSummaryRow[]> {
  let q = db
    .selectFrom('modules as m')
    .select(['m.id', 'm.name', 'm.created_by', 'm.created_at'])
    .select((eb) => [
      eb
        .selectFrom('module_versions as v')
        .whereRef('v.module_id', '=', 'm.id')
        .select(eb.fn.countAll<string>().as('n'))
        .as('version_count'),
      eb
        .selectFrom('module_versions as v')
        .whereRef('v.module_id', '=', 'm.id')
        .select('v.version')
        .orderBy('v.created_at', 'desc')
        .orderBy('v.id', 'desc')
        .limit(1)
        .as('latest_version'),
    ])
    .orderBy('m.name')
    .limit(opts.limit + 1);
  if (opts.afterName !== undefined) q = q.where('m.name', '>', opts.afterName);
  const rows = await q.execute();
  return rows.map((r) => ({
    ...toModule(r),
    versionCount: Number(r.version_count ?? 0),
    latestVersion: r.latest_version ?? null,
  }));
}

function versionQuery(db: Db) {
  return db
    .selectFrom('module_versions as v')
    .innerJoin('modules as m', 'm.id', 'v.module_id')
    .select([
      'v.id',
      'v.module_id',
      'm.name as module_name',
      'v.version',
      'v.digest',
      'v.lifecycle_state',
      'v.created_by',
      'v.created_at',
      'v.updated_at',
    ]);
}

export interface NewVersionRow {
  moduleId: string;
  version: string;
  digest: string;
  lifecycleState: LifecycleState;
  createdBy: string;
  at: Date;
}

/** Inserts a version; returns null when the module already has that version string. */
export async function insertVersion(db: Db, v: NewVersionRow): Promise<{ id: string } | null> {
  const row = await db
    .insertInto('module_versions')
    .values({
      module_id: v.moduleId,
      version: v.version,
      digest: v.digest,
      lifecycle_state: v.lifecycleState,
      created_by: v.createdBy,
      created_at: v.at,
      updated_at: v.at,
    })
    .onConflict((oc) => oc.columns(['module_id', 'version']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row ?? null;
}

/** One version by id, or by version string within a module; `forUpdate` locks the row. */
export async function findVersion(
  db: Db,
  by: { id: string } | { moduleId: string; version: string },
  opts: { forUpdate?: boolean } = {},
): Promise<ModuleVersion | null> {
  let q = versionQuery(db);
  q =
    'id' in by
      ? q.where('v.id', '=', by.id)
      : q.where('v.module_id', '=', by.moduleId).where('v.version', '=', by.version);
  if (opts.forUpdate === true) q = q.forUpdate('v');
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toVersion(row);
}

/** A module's versions, oldest first, after the (createdAt, id) cursor; limit + 1 rows. */
export async function listVersions(
  db: Db,
  opts: { moduleId: string; limit: number; lifecycleState?: LifecycleState; after?: { createdAt: string; id: string } },
): Promise<ModuleVersion[]> {
  let q = versionQuery(db)
    .where('v.module_id', '=', opts.moduleId)
    .orderBy('v.created_at')
    .orderBy('v.id')
    .limit(opts.limit + 1);
  if (opts.lifecycleState !== undefined) q = q.where('v.lifecycle_state', '=', opts.lifecycleState);
  const after = opts.after;
  if (after !== undefined) {
    q = q.where((eb) =>
      eb.or([
        eb('v.created_at', '>', new Date(after.createdAt)),
        eb.and([eb('v.created_at', '=', new Date(after.createdAt)), eb('v.id', '>', after.id)]),
      ]),
    );
  }
  return (await q.execute()).map(toVersion);
}

export async function setVersionLifecycle(db: Db, id: string, state: LifecycleState, at: Date): Promise<void> {
  await db
    .updateTable('module_versions')
    .set({ lifecycle_state: state, updated_at: at })
    .where('id', '=', id)
    .execute();
}
