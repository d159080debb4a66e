// Operators: bootstrap admin, creation with a one-time token, authentication, listing and revocation.
import { sql } from 'kysely';
import { decodeCursor, toPage, type Page } from '../domain/paging.js';
import { roleAllows, type Caller, type Role } from '../domain/roles.js';
import type { Operator } from '../domain/types.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import {
  countActiveAdmins,
  countOperators,
  findActiveOperatorByTokenHash,
  findOperatorByName,
  insertOperator,
  listOperators,
  revokeOperatorByName,
} from '../store/operators-repository.js';
import type { ServiceDeps } from './context.js';
import { hashToken, newToken } from './tokens.js';

export const BOOTSTRAP_ADMIN = 'admin';
const TOKEN_PREFIX = 'flo';
/** Serialises bootstrap across replicas starting together on one Postgres. */
const BOOTSTRAP_LOCK = 7_410_001;

export interface CreatedOperator {
  operator: Operator;
  /** Shown once; only its hash is stored. */
  token: string;
}

/** Throws `forbidden` naming the role a caller lacks. */
export function requireRole(caller: Caller, needed: Role, what: string): void {
  if (!roleAllows(caller.role, needed)) {
    throw new ForbiddenError(`${what} needs the ${needed} role; operator ${caller.name} is ${caller.role}`, {
      hint: `ask an admin to run: flotilla operators add NAME --role ${needed}`,
      details: { required_role: needed, caller_role: caller.role },
    });
  }
}

export class OperatorsService {
  constructor(private readonly deps: ServiceDeps) {}

  /** On an empty store, creates the bootstrap admin and returns its token; otherwise null. */
  async bootstrap(): Promise<CreatedOperator | null> {
    return this.deps.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
      if ((await countOperators(trx)) > 0) return null;
      return this.insert(trx, { name: BOOTSTRAP_ADMIN, role: 'admin' }, 'bootstrap');
    });
  }

  /** Creates an operator and returns its token once. The CLI, which opens the store directly, passes 'cli'. */
  async create(actor: string, input: { name: string; role: Role }): Promise<CreatedOperator> {
    return this.deps.db.transaction().execute((trx) => this.insert(trx, input, actor));
  }

  /** An admin creates an operator (the create_operator tool). */
  async createAs(caller: Caller, input: { name: string; role: Role }): Promise<CreatedOperator> {
    requireRole(caller, 'admin', 'creating an operator');
    return this.create(caller.name, input);
  }

  private async insert(
    trx: Parameters<typeof insertOperator>[0],
    input: { name: string; role: Role },
    actor: string,
  ): Promise<CreatedOperator> {
    const token = newToken(TOKEN_PREFIX);
    const now = this.deps.clock.now();
    const operator = await insertOperator(trx, {
      name: input.name,
      role: input.role,
      tokenHash: hashToken(token),
      createdBy: actor,
      createdAt: now,
    });
    if (operator === null) throw await this.nameTaken(trx, input.name);
    await appendEvent(
      trx,
      {
        kind: 'operator.created',
        actor,
        payload: { operator_id: operator.id, name: operator.name, role: operator.role },
      },
      now,
    );
    return { operator, token };
  }

  /**
   * Why a name cannot be given: names are never reused, because approvals (four-eyes included), rollouts
   * and the event log record operators by name, so one name must always mean one person.
   */
  private async nameTaken(trx: Parameters<typeof insertOperator>[0], name: string): Promise<ConflictError> {
    const existing = await findOperatorByName(trx, name);
    if (existing?.revokedAt != null) {
      return new ConflictError(
        `operator name ${name} belonged to an operator revoked at ${existing.revokedAt.toISOString()}`,
        {
          hint: `names are never reused: the history and approvals name ${name} as that person; pick another name (e.g. ${name}-2)`,
          details: { name, revoked_at: existing.revokedAt.toISOString() },
        },
      );
    }
    return new ConflictError(`operator ${name} already exists`, {
      hint: `pick another name; a lost token is not reissued: revoke ${name} and create the person under a new name (e.g. ${name}-2)`,
      details: { name },
    });
  }

  /** The caller a bearer token stands for; `unauthorized` for an unknown or revoked token. */
  async authenticate(token: string): Promise<Caller> {
    const operator = await findActiveOperatorByTokenHash(this.deps.db, hashToken(token));
    if (operator === null) {
      throw new UnauthorizedError('unknown or revoked token', {
        hint: 'pass an operator token as Authorization: Bearer <token>; an admin can issue one with flotilla operators add',
      });
    }
    return { operatorId: operator.id, name: operator.name, role: operator.role };
  }

  /** The active operator with this name as a caller (stdio sessions act as one). */
  async callerByName(name: string): Promise<Caller> {
    const operator = await findOperatorByName(this.deps.db, name);
    if (operator === null || operator.revokedAt !== null) {
      throw new UnauthorizedError(`operator ${name} does not exist or is revoked`, {
        hint: 'set FLOTILLA_OPERATOR to an active operator (flotilla operators list shows them)',
      });
    }
    return { operatorId: operator.id, name: operator.name, role: operator.role };
  }

  async list(opts: { limit: number; cursor?: string; includeRevoked?: boolean }): Promise<Page<Operator>> {
    const afterName = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, ['name']).name;
    const rows = await listOperators(this.deps.db, {
      limit: opts.limit,
      includeRevoked: opts.includeRevoked ?? false,
      ...(afterName === undefined ? {} : { afterName }),
    });
    return toPage(rows, opts.limit, (o) => ({ name: o.name }));
  }

  /** An admin revokes an operator (the revoke_operator tool). */
  async revokeAs(caller: Caller, name: string): Promise<Operator> {
    requireRole(caller, 'admin', 'revoking an operator');
    return this.revoke(caller.name, name);
  }

  /** Revokes an operator's token at once. The last active admin cannot be revoked. */
  async revoke(actor: string, name: string): Promise<Operator> {
    return this.deps.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
      const existing = await findOperatorByName(trx, name);
      if (existing === null || existing.revokedAt !== null) {
        throw new NotFoundError(`no active operator named ${name}`, { hint: 'list operators to see the active ones' });
      }
      if (existing.role === 'admin' && (await countActiveAdmins(trx)) <= 1) {
        throw new ConflictError(`operator ${name} is the last active admin`, {
          hint: 'create another admin first, then revoke this one',
        });
      }
      const now = this.deps.clock.now();
      const revoked = await revokeOperatorByName(trx, name, now);
      if (revoked === null) throw new NotFoundError(`no active operator named ${name}`);
      await appendEvent(trx, { kind: 'operator.revoked', actor, payload: { operator_id: revoked.id, name } }, now);
      return revoked;
    });
  }
}
