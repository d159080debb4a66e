// Operators on a real store: bootstrap creates exactly one admin (also when replicas race on Postgres),
// tokens are stored only as SHA-256 hex, revoked tokens stop working, the last admin stays.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../src/errors.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { OperatorsService } from '../../src/services/operators-service.js';
import { openStore, type Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { createTestDatabase, openTestStore, silentLogger, STORE_KINDS, TEST_DATABASE_URL } from '../helpers/store.js';

const clock = new ManualClock('2026-11-22T00:00:00.000Z');
const serviceOn = (store: Store): OperatorsService =>
  new OperatorsService({ db: store.db, clock, logger: silentLogger });

async function failure(promise: Promise<unknown>): Promise<FlotillaError> {
  const err = await promise.then(
    () => new Error('expected a FlotillaError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FlotillaError);
  return err as FlotillaError;
}

async function adminCount(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom('operators')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('role', '=', 'admin')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe.each(STORE_KINDS)('operators on %s', (kind) => {
  let store: Store;
  let operators: OperatorsService;
  let adminToken: string;

  beforeAll(async () => {
    store = await openTestStore(kind);
    operators = serviceOn(store);
  });
  afterAll(() => store.close());

  it('bootstraps exactly one admin on a fresh store', async () => {
    const created = await operators.bootstrap();
    expect(created?.operator).toMatchObject({ name: 'admin', role: 'admin', createdBy: 'bootstrap' });
    adminToken = created!.token;
    expect(await adminCount(store)).toBe(1);
  });

  it('returns null from a second bootstrap and creates nobody', async () => {
    expect(await operators.bootstrap()).toBeNull();
    expect(await adminCount(store)).toBe(1);
  });

  it('stores a token only as its SHA-256 hex, nowhere else in the row', async () => {
    const { operator, token } = await operators.create('test', { name: 'alice', role: 'approver' });
    const { rows } = await sql<{ token_hash: string; row_text: string }>`
      SELECT o.token_hash, row_to_json(o)::text AS row_text FROM operators o WHERE o.id = ${operator.id}`.execute(
      store.db,
    );
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(rows[0]!.row_text).not.toContain(token);
    expect(rows[0]!.row_text).not.toContain(token.slice('flo_'.length));
    // Nor in the event that records the creation.
    const { rows: events } = await sql<{ text: string }>`SELECT payload::text AS text FROM events`.execute(store.db);
    for (const event of events) expect(event.text).not.toContain(token.slice('flo_'.length));
  });

  it('authenticates a token as its operator', async () => {
    const { token } = await operators.create('test', { name: 'bob', role: 'viewer' });
    expect(await operators.authenticate(token)).toMatchObject({ name: 'bob', role: 'viewer' });
    expect(await operators.authenticate(adminToken)).toMatchObject({ name: 'admin', role: 'admin' });
  });

  it('refuses a token with unauthorized once its operator is revoked', async () => {
    const { token } = await operators.create('test', { name: 'carol', role: 'operator' });
    await operators.authenticate(token);
    await operators.revoke('test', 'carol');
    expect((await failure(operators.authenticate(token))).code).toBe('unauthorized');
  });

  it('refuses an unknown token with unauthorized', async () => {
    expect((await failure(operators.authenticate(`${adminToken}x`))).code).toBe('unauthorized');
  });

  it('refuses to revoke the last active admin, which keeps working', async () => {
    const err = await failure(operators.revoke('test', 'admin'));
    expect(err.code).toBe('conflict');
    expect(err.message).toContain('last active admin');
    expect(await operators.authenticate(adminToken)).toMatchObject({ name: 'admin' });
  });

  it('revokes an admin while another active admin remains', async () => {
    await operators.create('test', { name: 'dana', role: 'admin' });
    await operators.revoke('test', 'admin');
    expect((await failure(operators.authenticate(adminToken))).code).toBe('unauthorized');
    expect((await failure(operators.revoke('test', 'dana'))).code).toBe('conflict');
  });
});

describe.runIf(TEST_DATABASE_URL !== undefined)('operators across replicas on one Postgres', () => {
  const REPLICAS = 4;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let stores: Store[];

  beforeAll(async () => {
    database = await createTestDatabase();
    stores = await Promise.all(
      Array.from({ length: REPLICAS }, () =>
        openStore({ kind: 'postgres', url: database.url }, { logger: silentLogger, poolSize: 2 }),
      ),
    );
    await migrateToLatest(stores[0]!.db);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await database.drop();
  });

  it(`creates exactly one admin when ${REPLICAS} replicas bootstrap at the same time`, async () => {
    // Several rounds on an emptied table: one race can be won by luck, five in a row rarely.
    for (let round = 0; round < 5; round++) {
      await sql`DELETE FROM operators`.execute(stores[0]!.db);
      const results = await Promise.all(stores.map((s) => serviceOn(s).bootstrap()));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      const { rows } = await sql<{ name: string }>`SELECT name FROM operators`.execute(stores[0]!.db);
      expect(rows).toEqual([{ name: 'admin' }]);
    }
  });

  it('leaves one active admin when the only two admins are revoked at the same time', async () => {
    await serviceOn(stores[0]!).create('test', { name: 'erin', role: 'admin' });
    const outcomes = await Promise.allSettled([
      serviceOn(stores[1]!).revoke('test', 'admin'),
      serviceOn(stores[2]!).revoke('test', 'erin'),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected');
    expect((refused?.reason as FlotillaError).code).toBe('conflict');
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM operators WHERE role = 'admin' AND revoked_at IS NULL`.execute(stores[0]!.db);
    expect(Number(rows[0]!.n)).toBe(1);
  });
});
