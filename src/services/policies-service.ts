// Intervention policies: which actions run automatically, need an approval (optionally four-eyes), or are blocked.
import { ROLLING_UPGRADE_ACTION, type InterventionPolicy, type PolicyMode } from '../domain/approvals.js';
import type { Caller } from '../domain/roles.js';
import { appendEvent } from '../store/events-repository.js';
import { findPolicy, listPolicies, upsertPolicy } from '../store/approvals-repository.js';
import type { Db } from '../store/executor.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';

/** The policy an action falls back to when none is stored: ask for approval, four-eyes on. */
export const DEFAULT_POLICY = { mode: 'require_approval' as PolicyMode, fourEyes: true };

export class PoliciesService {
  constructor(private readonly deps: ServiceDeps) {}

  async list(): Promise<InterventionPolicy[]> {
    return listPolicies(this.deps.db);
  }

  /** The policy for an action, or the fail-safe default when none is stored. */
  async get(action: string, db: Db = this.deps.db): Promise<InterventionPolicy> {
    return (
      (await findPolicy(db, action)) ?? {
        action,
        ...DEFAULT_POLICY,
        updatedBy: 'default',
        updatedAt: new Date(0),
      }
    );
  }

  async set(
    caller: Caller,
    input: { action: string; mode: PolicyMode; fourEyes: boolean },
  ): Promise<InterventionPolicy> {
    requireRole(caller, 'admin', 'changing an intervention policy');
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const before = await findPolicy(trx, input.action);
      await upsertPolicy(trx, { ...input, by: caller.name, at: now });
      await appendEvent(
        trx,
        {
          kind: 'policy.intervention.updated',
          actor: caller.name,
          payload: {
            action: input.action,
            mode: input.mode,
            four_eyes: input.fourEyes,
            previous: before === null ? null : { mode: before.mode, four_eyes: before.fourEyes },
          },
        },
        now,
      );
      return (await findPolicy(trx, input.action))!;
    });
  }

  /** Known actions, for error messages and introspection. */
  static readonly KNOWN_ACTIONS = [ROLLING_UPGRADE_ACTION];
}
