// `flotilla operators add|list|revoke` and `flotilla migrate` as a person runs them: real child
// processes on a PGlite folder in a temp dir (and on Postgres when TEST_DATABASE_URL is set).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/scheduler/clock.js';
import { OperatorsService } from '../../src/services/operators-service.js';
import { openStore } from '../../src/store/db.js';
import { MIGRATIONS_DIR } from '../../src/store/migrator.js';
import { ChildSet, cliEnv, lines, makeTempDir, tokensIn, type TempDir } from '../helpers/cli.js';
import { createTestDatabase, silentLogger, TEST_DATABASE_URL } from '../helpers/store.js';

/** Each command opens PGlite in a child process: seconds each on a busy machine. */
const SLOW = 120_000;

const MIGRATION_NAMES = fs
  .readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(f))
  .map((f) => f.replace(/\.(ts|js)$/, ''))
  .sort();

describe('flotilla operators', () => {
  const children = new ChildSet();
  let tmp: TempDir;
  let dataDir: string;
  let aliceToken: string;

  const operators = (...args: string[]) =>
    children.run(['operators', ...args, '--database-url', `pglite://${dataDir}`], { cwd: tmp.path });

  beforeAll(() => {
    tmp = makeTempDir();
    dataDir = path.join(tmp.path, 'data');
  });
  afterEach(() => children.killAll());
  afterAll(() => tmp.remove());

  it(
    'add prints the new token once on stdout, and that token authenticates as the new operator',
    async () => {
      const added = await operators('add', 'alice', '--role', 'approver');
      expect(added.code).toBe(0);
      expect(added.stderr).toBe('');
      expect(added.stdout).toContain('Operator "alice" (approver) created');
      const tokens = tokensIn(added.stdout);
      expect(tokens).toHaveLength(1);
      aliceToken = tokens[0]!;

      const store = await openStore({ kind: 'pglite', dataDir }, { logger: silentLogger });
      try {
        const service = new OperatorsService({ db: store.db, clock: systemClock, logger: silentLogger });
        expect(await service.authenticate(aliceToken)).toMatchObject({ name: 'alice', role: 'approver' });
      } finally {
        await store.close();
      }
    },
    SLOW,
  );

  it(
    'list shows alice with her role, and no token',
    async () => {
      const listed = await operators('list');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^NAME\s+ROLE\s+CREATED\s+REVOKED/m);
      expect(listed.stdout).toMatch(/^alice\s+approver\s/m);
      expect(tokensIn(listed.stdout)).toEqual([]);
    },
    SLOW,
  );

  it(
    'add with an unknown role exits non-zero with one line, before touching the store',
    async () => {
      const neverCreated = path.join(tmp.path, 'untouched');
      const result = await children.run(
        ['operators', 'add', 'bob', '--role', 'superuser', '--database-url', `pglite://${neverCreated}`],
        { cwd: tmp.path },
      );
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(lines(result.stderr)).toEqual(['flotilla: --role must be one of viewer, operator, approver, admin']);
      expect(fs.existsSync(neverCreated)).toBe(false);
    },
    SLOW,
  );

  it(
    'revoke revokes alice: list no longer shows her, list --all shows when she was revoked',
    async () => {
      const revoked = await operators('revoke', 'alice');
      expect(revoked.code).toBe(0);
      expect(revoked.stdout.trim()).toBe('Operator "alice" revoked.');

      const active = await operators('list');
      expect(active.stdout).not.toMatch(/^alice\s/m);
      const all = await operators('list', '--all');
      expect(all.stdout).toMatch(/^alice\s+approver\s+\S+\s+\d{4}-\d\d-\d\dT/m);
    },
    SLOW,
  );

  it(
    'revoke of an operator that does not exist exits non-zero with one line',
    async () => {
      const result = await operators('revoke', 'ghost');
      expect(result.code).not.toBe(0);
      const errLines = lines(result.stderr);
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toContain('no active operator named ghost');
    },
    SLOW,
  );
});

describe('flotilla migrate', () => {
  const children = new ChildSet();
  let tmp: TempDir;

  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterEach(() => children.killAll());
  afterAll(() => tmp.remove());

  it(
    'applies every migration to a new PGlite folder, then finds it up to date',
    async () => {
      const url = tmp.pgliteUrl('fresh');
      const first = await children.run(['migrate', '--database-url', url], { cwd: tmp.path });
      expect(first.code).toBe(0);
      expect(first.stdout.trim()).toBe(`applied: ${MIGRATION_NAMES.join(', ')}`);

      const again = await children.run(['migrate', '--database-url', url], { cwd: tmp.path });
      expect(again.code).toBe(0);
      expect(again.stdout.trim()).toBe('store is up to date');
    },
    SLOW,
  );

  it.runIf(TEST_DATABASE_URL !== undefined)(
    'migrates the Postgres database named by DATABASE_URL',
    async () => {
      const database = await createTestDatabase();
      try {
        const result = await children.run(['migrate'], { cwd: tmp.path, env: cliEnv({ DATABASE_URL: database.url }) });
        expect(result.code).toBe(0);
        expect(result.stdout.trim()).toBe(`applied: ${MIGRATION_NAMES.join(', ')}`);
      } finally {
        await database.drop();
      }
    },
    SLOW,
  );
});
