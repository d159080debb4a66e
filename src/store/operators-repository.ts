// Operator rows: identity and token hashes. Plain functions taking `db` or `trx` first.
import type { Selectable } from 'kysely';
import type { Role } from '../domain/roles.js';
import type { Operator } from '../domain/types.js';
import type { OperatorsTable } from './database.js';
import type { Db } from './executor.js';

const COLUMNS = ['id', 'name', 'role', 'created_by', 'created_at', 'revoked_at'] as const;

function toOperator(row: Pick<Selectable<OperatorsTable>, (typeof COLUMNS)[number]>): Operator {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export interface NewOperatorRow {
  name: string;
  role: Role;
  tokenHash: string;
  createdBy: string;
  createdAt: Date;
}

/** Inserts an operator; returns null when the name is taken. */
export async function insertOperator(db: Db, op: NewOperatorRow): Promise<Operator | null> {
  const row = await db
    .insertInto('operators')
    .values({
      name: op.name,
      role: op.role,
      token_hash: op.tokenHash,
      created_by: op.createdBy,
      created_at: op.createdAt,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
  return row === undefined ? null : toOperator(row);
}

/** The active (not revoked) operator holding this token hash. */
export async function findActiveOperatorByTokenHash(db: Db, tokenHash: string): Promise<Operator | null> {
  const row = await db
    .selectFrom('operators')
    .select(COLUMNS)
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row === undefined ? null : toOperator(row);
}

export async function findOperatorByName(db: Db, name: string): Promise<Operator | null> {
  const row = await db.selectFrom('operators').select(COLUMNS).where('name', '=', name).executeTakeFirst();
  return row === undefined ? null : toOperator(row);
}

export async function countOperators(db: Db): Promise<number> {
  const row = await db
    .selectFrom('operators')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Operators ordered by name, after `afterName` when given; fetches limit + 1 rows for paging. */
export async function listOperators(
  db: Db,
  opts: { limit: number; afterName?: string; includeRevoked: boolean },
): Promise<Operator[]> {
  let q = db
    .selectFrom('operators')
    .select(COLUMNS)
    .orderBy('name')
    .limit(opts.limit + 1);
  if (opts.afterName !== undefined) q = q.where('name', '>', opts.afterName);
  if (!opts.includeRevoked) q = q.where('revoked_at', 'is', null);
  return (await q.execute()).map(toOperator);
}

/** Marks an active operator revoked; returns null when there is no such active operator. */
export async function revokeOperatorByName(db: Db, name: string, at: Date): Promise<Operator | null> {
  const row = await db
    .updateTable('operators')
    .set({ revoked_at: at })
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .returning(COLUMNS)
    .executeTakeFirst();
  return row === undefined ? null : toOperator(row);
}

export async function countActiveAdmins(db: Db): Promise<number> {
  const row = await db
    .selectFrom('operators')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('role', '=', 'admin')
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
