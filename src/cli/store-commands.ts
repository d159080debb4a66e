// `flotilla migrate` and `flotilla operators add|list|revoke`: the only commands that open the
// store directly (they migrate a fresh store first). Tokens are printed once, never logged.
import { parseArgs } from 'node:util';
import { resolveSettings } from '../config.js';
import { isRole, ROLES } from '../domain/roles.js';
import { operatorNameSchema } from '../domain/names.js';
import { InvalidInputError } from '../errors.js';
import { createLogger } from '../logger.js';
import { systemClock } from '../scheduler/clock.js';
import { OperatorsService } from '../services/operators-service.js';
import { openStore, parseDatabaseUrl, type Store } from '../store/db.js';
import { migrateToLatest } from '../store/migrator.js';
import { ensurePlatformRow } from '../store/platform-repository.js';
import { say, table } from './output.js';

export const MIGRATE_HELP = `Usage: flotilla migrate [--database-url URL]

Brings the store (DATABASE_URL) to the newest migration and exits. Safe to run while replicas start.
`;

export const OPERATORS_HELP = `Usage:
  flotilla operators add NAME --role ROLE   create an operator; prints its token once
  flotilla operators list [--all]           list operators (--all includes revoked)
  flotilla operators revoke NAME            revoke an operator's token at once

Roles: ${ROLES.join(' < ')}. Opens the store named by DATABASE_URL (or --database-url) directly.
Names are never reused: history and approvals name a revoked operator as that person, so a lost token
means revoking the operator and creating the person under a new name.
`;

async function withStore<T>(databaseUrl: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const logger = createLogger(
    process.env.LOG_LEVEL === undefined || process.env.LOG_LEVEL === '' ? 'warn' : process.env.LOG_LEVEL,
  );
  const store = await openStore(parseDatabaseUrl(databaseUrl), { logger, poolSize: 2 });
  try {
    await migrateToLatest(store.db);
    await ensurePlatformRow(store.db);
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { 'database-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    say(MIGRATE_HELP);
    return 0;
  }
  const { databaseUrl } = resolveSettings(['databaseUrl'] as const, values, process.env);
  const logger = createLogger('warn');
  const store = await openStore(parseDatabaseUrl(databaseUrl), { logger, poolSize: 2 });
  try {
    const { applied } = await migrateToLatest(store.db);
    say(applied.length === 0 ? 'store is up to date' : `applied: ${applied.join(', ')}`);
  } finally {
    await store.close();
  }
  return 0;
}

export async function operatorsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      all: { type: 'boolean' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, name] = positionals;
  if (values.help === true || action === undefined) {
    say(OPERATORS_HELP);
    return values.help === true ? 0 : 2;
  }
  const { databaseUrl } = resolveSettings(['databaseUrl'] as const, values, process.env);
  const needName = (): string => {
    const parsed = operatorNameSchema.safeParse(name);
    if (!parsed.success)
      throw new InvalidInputError(`operators ${action} needs NAME: ${parsed.error.issues[0]?.message ?? 'missing'}`);
    return parsed.data;
  };
  switch (action) {
    case 'add': {
      const opName = needName();
      const role = values.role;
      if (role === undefined || !isRole(role)) throw new InvalidInputError(`--role must be one of ${ROLES.join(', ')}`);
      const created = await withStore(databaseUrl, (store) =>
        new OperatorsService({ db: store.db, clock: systemClock, logger: createLogger('warn') }).create('cli', {
          name: opName,
          role,
        }),
      );
      say(`Operator "${created.operator.name}" (${created.operator.role}) created. Its token, shown only this once:`);
      say(`  ${created.token}`);
      return 0;
    }
    case 'list': {
      const page = await withStore(databaseUrl, (store) =>
        new OperatorsService({ db: store.db, clock: systemClock, logger: createLogger('warn') }).list({
          limit: 500,
          includeRevoked: values.all === true,
        }),
      );
      table(
        page.items.map((o) => ({
          name: o.name,
          role: o.role,
          created: o.createdAt.toISOString(),
          revoked: o.revokedAt?.toISOString() ?? '',
        })),
      );
      return 0;
    }
    case 'revoke': {
      const opName = needName();
      await withStore(databaseUrl, (store) =>
        new OperatorsService({ db: store.db, clock: systemClock, logger: createLogger('warn') }).revoke('cli', opName),
      );
      say(`Operator "${opName}" revoked.`);
      return 0;
    }
    default:
      throw new InvalidInputError(`unknown operators action "${action}"; use add, list or revoke`);
  }
}
