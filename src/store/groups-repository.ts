// Groups (the seeds' templates) and enrollment tokens. Plain functions taking `db` or `trx` first.
import type { EnrollmentToken, Group } from '../domain/fleet.js';
import type { Db } from './executor.js';

const GROUP_COLUMNS = ['id', 'name', 'created_by', 'created_at'] as const;

function toGroup(r: { id: string; name: string; created_by: string; created_at: Date }): Group {
  return { id: r.id, name: r.name, createdBy: r.created_by, createdAt: r.created_at };
}

/** Creates the group if it is new; returns it either way. */
export async function upsertGroup(
  db: Db,
  name: string,
  createdBy: string,
  at: Date,
): Promise<{ group: Group; created: boolean }> {
  const inserted = await db
    .insertInto('groups')
    .values({ name, created_by: createdBy, created_at: at })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning(GROUP_COLUMNS)
    .executeTakeFirst();
  if (inserted !== undefined) return { group: toGroup(inserted), created: true };
  const row = await db.selectFrom('groups').select(GROUP_COLUMNS).where('name', '=', name).executeTakeFirstOrThrow();
  return { group: toGroup(row), created: false };
}

export async function findGroup(db: Db, by: { id: string } | { name: string }): Promise<Group | null> {
  let q = db.selectFrom('groups').select(GROUP_COLUMNS);
  q = 'id' in by ? q.where('id', '=', by.id) : q.where('name', '=', by.name);
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toGroup(row);
}

export interface NewEnrollmentToken {
  groupId: string;
  tokenHash: string;
  region: string | null;
  labels: Record<string, string>;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

export async function insertEnrollmentToken(db: Db, t: NewEnrollmentToken): Promise<string> {
  const row = await db
    .insertInto('enrollment_tokens')
    .values({
      group_id: t.groupId,
      token_hash: t.tokenHash,
      region: t.region,
      labels: JSON.stringify(t.labels),
      created_by: t.createdBy,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

function tokenQuery(db: Db) {
  return db
    .selectFrom('enrollment_tokens as t')
    .innerJoin('groups as g', 'g.id', 't.group_id')
    .select([
      't.id',
      't.group_id',
      'g.name as group_name',
      't.region',
      't.labels',
      't.created_by',
      't.created_at',
      't.expires_at',
      't.revoked_at',
    ]);
}

type TokenRow = Awaited<ReturnType<ReturnType<typeof tokenQuery>['executeTakeFirstOrThrow']>>;

function toToken(r: TokenRow): EnrollmentToken {
  return {
    id: r.id,
    groupId: r.group_id,
    groupName: r.group_name,
    region: r.region,
    labels: r.labels,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

/** The token with this hash if it is usable now (not revoked, not expired). */
export async function findUsableEnrollmentToken(db: Db, tokenHash: string, now: Date): Promise<EnrollmentToken | null> {
  const row = await tokenQuery(db)
    .where('t.token_hash', '=', tokenHash)
    .where('t.revoked_at', 'is', null)
    .where('t.expires_at', '>', now)
    .executeTakeFirst();
  return row === undefined ? null : toToken(row);
}

export async function findEnrollmentToken(db: Db, id: string): Promise<EnrollmentToken | null> {
  const row = await tokenQuery(db).where('t.id', '=', id).executeTakeFirst();
  return row === undefined ? null : toToken(row);
}

/** Revokes a token; returns null when there is no such unrevoked token. */
export async function revokeEnrollmentToken(db: Db, id: string, at: Date): Promise<EnrollmentToken | null> {
  const row = await db
    .updateTable('enrollment_tokens')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row === undefined ? null : findEnrollmentToken(db, row.id);
}
