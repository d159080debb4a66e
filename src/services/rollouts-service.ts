// Rolling upgrades: planning (execute_skill), reading rollouts, and operator controls. Nothing here
// waits for instances: the runner advances rollouts on reconciler ticks.
import { APPROVAL_TTL_MS, ROLLING_UPGRADE_ACTION, type PolicyMode } from '../domain/approvals.js';
import { DEPLOYABLE_STATES } from '../domain/lifecycle.js';
import type { GroupRef } from '../domain/fleet.js';
import { isUuid } from '../domain/names.js';
import { decodeCursor, decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Rollout, RolloutBatch } from '../domain/rollout.js';
import type { RolloutState } from '../domain/rollout-state.js';
import type { Caller } from '../domain/roles.js';
import { batchSizes, batchStarts, estimatedTotalSeconds, strategyProblem, type Strategy } from '../domain/strategy.js';
import type { Group } from '../domain/fleet.js';
import type { Module, ModuleVersion } from '../domain/types.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import { insertApproval, supersedeApprovals } from '../store/approvals-repository.js';
import type { Db } from '../store/executor.js';
import type { Learning } from '../store/learnings-repository.js';
import {
  archivedRollbackVersions,
  countLiveInstances,
  insertPlan,
  instancesOutsideScope,
  listBatches,
  listTargets,
  previewBatches,
  startRollback,
  type TargetRow,
} from '../store/rollout-targets-repository.js';
import {
  findActiveRollout,
  findRollout,
  insertRollout,
  listRollouts,
  updateRollout,
} from '../store/rollouts-repository.js';
import type { ServiceDeps } from './context.js';
import type { FleetService } from './fleet-service.js';
import type { LearningsService } from './learnings-service.js';
import type { ModuleRef, ModulesService } from './modules-service.js';
import { requireRole } from './operators-service.js';
import type { PoliciesService } from './policies-service.js';
import { transitionRollout } from './rollout-transitions.js';

/** Ids listed per batch in plans and views; the full plan is at flotilla://rollouts/{id}. */
export const IDS_PER_BATCH = 100;

/** MCP clients time out at 60 s: a watch returns before that. */
export const MAX_WATCH_SEC = 55;

/** States a watch stops at by default: a human is needed, or the rollout finished. */
export const WATCH_DEFAULT_UNTIL: readonly RolloutState[] = [
  'pending_approval',
  'paused',
  'circuit_open',
  'completed',
  'aborted',
  'rolled_back',
  'failed',
];

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export interface PlanInput {
  group: GroupRef;
  module: ModuleRef;
  targetVersionRef: string;
  strategy: Strategy;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
  maxFailurePct: number | null;
  minSample: number | null;
  soakSec: number;
  federationRolloutRef?: string | null;
  /** A leg a federation peer started: that peer (set with federationRolloutRef). */
  federationOriginPeerId?: string | null;
  /** Synchronized leg: the highest batch index the runner may start; null or absent = no barrier. */
  barrierBatch?: number | null;
  /**
   * Only these live instances of the group (a federated deployment's share); absent: all of them. They
   * keep the target as their own desired version on completion; the group's baseline is left alone.
   */
  instanceIds?: readonly string[];
}

export interface Plan {
  rolloutId: string | null;
  dryRun: boolean;
  state: RolloutState | null;
  group: Group;
  module: Module;
  targetVersion: ModuleVersion;
  strategy: Strategy;
  totalInstances: number;
  batchSize: number;
  batchCount: number;
  estimatedTotalSeconds: number;
  healthTimeoutSec: number;
  soakSec: number;
  circuitBreaker: { maxConsecutiveFailures: number; maxFailurePct: number | null; minSample: number | null };
  batches: RolloutBatch[];
  approvalRequestId: string | null;
  policy: { mode: PolicyMode; fourEyes: boolean };
  relatedLearnings: Learning[];
}

export class RolloutsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly fleet: FleetService,
    private readonly modules: ModulesService,
    private readonly policies: PoliciesService,
    private readonly learnings: LearningsService,
  ) {}

  /**
   * Plans a rolling upgrade; with dryRun nothing is written. Refusals write nothing either. Given `trx`
   * (an open transaction: a peer call's), every read and write runs on it and no transaction is opened.
   */
  async plan(caller: Caller, input: PlanInput, dryRun: boolean, trx?: Db): Promise<Plan> {
    const db = trx ?? this.deps.db;
    requireRole(caller, 'operator', 'planning a rolling upgrade');
    const problem = strategyProblem(input.strategy);
    if (problem !== null) throw new InvalidInputError(problem);
    if (input.minSample !== null && input.maxFailurePct === null) {
      throw new InvalidInputError('min_sample only applies with max_failure_pct');
    }
    const group = await this.fleet.resolveGroup(input.group, db);
    const module = await this.modules.resolveModule(db, input.module);
    const target = await this.modules.resolveVersion(input.targetVersionRef, { moduleId: module.id }, db);
    if (!DEPLOYABLE_STATES.includes(target.lifecycleState)) {
      throw new ConflictError(
        target.lifecycleState === 'archived'
          ? `version ${target.version} of ${module.name} is archived; an upgrade or rollback needs a published, blessed or live version — unarchive it first`
          : `version ${target.version} of ${module.name} is ${target.lifecycleState}; only published, blessed or live versions can be rolled out`,
        {
          hint:
            target.lifecycleState === 'archived'
              ? 'an admin can restore it: promote_module_version to published'
              : 'promote it first: promote_module_version to published',
        },
      );
    }
    const policy = await this.policies.get(ROLLING_UPGRADE_ACTION, db);
    if (policy.mode === 'blocked') {
      throw new ForbiddenError(`the intervention policy ${ROLLING_UPGRADE_ACTION} is blocked`, {
        hint: 'an admin can change it with set_intervention_policy; agent_introspect shows the policies',
      });
    }
    const scope = input.instanceIds === undefined ? null : scopeOf(input.instanceIds);
    const total = await countLiveInstances(db, group.id, scope);
    if (scope !== null && total !== scope.length) throw await scopeRefusal(db, group, scope, total);
    if (total === 0) {
      throw new ConflictError(`group ${group.name} has no live instances to upgrade`, {
        hint: 'enroll agents first (create_enrollment_token), or check list_instances',
      });
    }
    const active = await findActiveRollout(db, group.id, module.id);
    if (active !== null) throw activeConflict(module.name, group.name, active);

    const sizes = batchSizes(total, input.strategy);
    const starts = batchStarts(sizes);
    const base = {
      group,
      module,
      targetVersion: target,
      strategy: input.strategy,
      totalInstances: total,
      batchSize: Math.max(...sizes),
      batchCount: sizes.length,
      estimatedTotalSeconds: estimatedTotalSeconds(sizes.length, input.healthTimeoutSec, input.soakSec),
      healthTimeoutSec: input.healthTimeoutSec,
      soakSec: input.soakSec,
      circuitBreaker: {
        maxConsecutiveFailures: input.maxConsecutiveFailures,
        maxFailurePct: input.maxFailurePct,
        minSample: input.minSample,
      },
      policy: { mode: policy.mode, fourEyes: policy.fourEyes },
      relatedLearnings: await this.learnings.relatedTo(module.name, undefined, db),
    };
    if (dryRun) {
      const preview = await previewBatches(db, group.id, starts, IDS_PER_BATCH, scope);
      return {
        ...base,
        rolloutId: null,
        dryRun: true,
        state: null,
        approvalRequestId: null,
        batches: sizes.map((size, index) => ({
          index,
          phase: 'pending',
          instanceCount: size,
          healthyCount: 0,
          failedCount: 0,
          startedAt: null,
          completedAt: null,
          instanceIds: preview.get(index) ?? [],
        })),
      };
    }
    return this.inTransaction(trx, async (trx) => {
      const now = this.deps.clock.now();
      const rolloutId = await insertRollout(trx, {
        groupId: group.id,
        moduleId: module.id,
        targetVersionId: target.id,
        strategy: input.strategy,
        maxConsecutiveFailures: input.maxConsecutiveFailures,
        healthTimeoutSec: input.healthTimeoutSec,
        maxFailurePct: input.maxFailurePct,
        minSample: input.minSample,
        soakSec: input.soakSec,
        totalInstances: total,
        batchCount: sizes.length,
        requestedBy: caller.name,
        federationRolloutRef: input.federationRolloutRef ?? null,
        federationOriginPeerId: input.federationOriginPeerId ?? null,
        barrierBatch: input.barrierBatch ?? null,
        instanceIds: scope,
        at: now,
      });
      if (rolloutId === null) throw activeConflict(module.name, group.name, null);
      const written = await insertPlan(trx, {
        rolloutId,
        groupId: group.id,
        moduleId: module.id,
        moduleName: module.name,
        sizes,
        starts,
        scope,
      });
      if (written !== total) throw new ConflictError('the group changed while planning; plan again');
      const rollout = (await findRollout(trx, rolloutId, { forUpdate: true }))!;
      let approvalRequestId: string | null = null;
      if (policy.mode === 'require_approval') {
        const approval = await insertApproval(trx, {
          kind: 'rollout_plan',
          subjectType: 'rollout',
          subjectId: rolloutId,
          summary: planSummary(rollout),
          options: [],
          action: ROLLING_UPGRADE_ACTION,
          fourEyes: policy.fourEyes,
          requestedBy: caller.name,
          createdAt: now,
          expiresAt: new Date(now.getTime() + APPROVAL_TTL_MS),
        });
        approvalRequestId = approval.id;
        await transitionRollout(trx, rollout, 'submit_for_approval', {
          actor: caller.name,
          kind: 'planned',
          payload: { approval_request_id: approval.id, total_instances: total, batch_count: sizes.length },
          patch: { approvalRequestId: approval.id },
          now,
        });
      } else {
        await transitionRollout(trx, rollout, 'auto_approve', {
          actor: caller.name,
          kind: 'planned',
          payload: {
            approval_request_id: null,
            total_instances: total,
            batch_count: sizes.length,
            approved_by: 'policy:auto',
          },
          patch: { startedAt: now },
          now,
        });
      }
      const state = policy.mode === 'require_approval' ? 'pending_approval' : 'running';
      return {
        ...base,
        rolloutId,
        dryRun: false,
        state,
        approvalRequestId,
        batches: await listBatches(trx, rolloutId, IDS_PER_BATCH),
      };
    });
  }

  async get(id: string, db: Db = this.deps.db): Promise<{ rollout: Rollout; batches: RolloutBatch[] }> {
    const rollout = isUuid(id) ? await findRollout(db, id) : null;
    if (rollout === null) throw new NotFoundError(`no rollout ${id}`, { hint: 'list_rollouts shows the rollouts' });
    return { rollout, batches: await listBatches(db, id, IDS_PER_BATCH) };
  }

  async list(f: {
    state?: RolloutState;
    group?: GroupRef;
    module?: ModuleRef;
    limit: number;
    cursor?: string;
  }): Promise<Page<Rollout>> {
    const group = f.group === undefined ? undefined : await this.fleet.resolveGroup(f.group);
    const module = f.module === undefined ? undefined : await this.modules.resolveModule(this.deps.db, f.module);
    const before = f.cursor === undefined ? undefined : decodeTimeIdCursor(f.cursor);
    const rows = await listRollouts(this.deps.db, {
      limit: f.limit,
      ...(f.state === undefined ? {} : { state: f.state }),
      ...(group === undefined ? {} : { groupId: group.id }),
      ...(module === undefined ? {} : { moduleId: module.id }),
      ...(before === undefined ? {} : { before }),
    });
    return toPage(rows, f.limit, (r) => ({ created_at: r.createdAt.toISOString(), id: r.id }));
  }

  /** Per-instance progress of a rollout, in upgrade order. */
  async targets(id: string, f: { batchIndex?: number; limit: number; cursor?: string }): Promise<Page<TargetRow>> {
    const afterPosition = f.cursor === undefined ? undefined : decodeCursor(f.cursor, ['position']).position;
    if (afterPosition !== undefined && !/^\d{1,9}$/.test(afterPosition)) decodeCursor('', ['position']); // throws the cursor error
    await this.get(id);
    const rows = await listTargets(this.deps.db, {
      rolloutId: id,
      limit: f.limit,
      ...(f.batchIndex === undefined ? {} : { batchIndex: f.batchIndex }),
      ...(afterPosition === undefined ? {} : { afterPosition: Number(afterPosition) }),
    });
    return toPage(rows, f.limit, (t) => ({ position: t.position }));
  }

  /**
   * Operator controls: pause, resume, abort, rollback. Each is one transaction on the locked rollout: the
   * caller's `trx` when given (a peer call's), else a new one.
   */
  async control(
    caller: Caller,
    id: string,
    action: 'pause' | 'resume' | 'abort' | 'rollback',
    reason?: string,
    trx?: Db,
  ): Promise<Rollout> {
    requireRole(caller, 'operator', `${action} of a rollout`);
    if (!isUuid(id)) throw new NotFoundError(`no rollout ${id}`);
    await this.inTransaction(trx, async (trx) => {
      const now = this.deps.clock.now();
      const rollout = await findRollout(trx, id, { forUpdate: true });
      if (rollout === null) throw new NotFoundError(`no rollout ${id}`, { hint: 'list_rollouts shows the rollouts' });
      const payload = { reason: reason ?? null };
      switch (action) {
        case 'pause':
          await transitionRollout(trx, rollout, 'pause', { actor: caller.name, kind: 'paused', payload, now });
          return;
        case 'resume':
          if (rollout.state === 'circuit_open') {
            throw new ConflictError(`rollout ${id} is circuit_open: the circuit breaker tripped`, {
              hint: `decide its continuation approval ${rollout.approvalRequestId ?? ''} (continue_anyway, rollback_completed_batches or abort)`.trim(),
            });
          }
          await transitionRollout(trx, rollout, 'resume', { actor: caller.name, kind: 'resumed', payload, now });
          return;
        case 'abort':
          await supersedeApprovals(trx, { subjectId: id }, { supersededBy: null, edits: null });
          await transitionRollout(trx, rollout, 'abort', {
            actor: caller.name,
            kind: 'aborted',
            payload,
            patch: { reason: reason ?? `aborted by ${caller.name}` },
            now,
          });
          return;
        case 'rollback':
          await this.beginRollback(trx, rollout, caller.name, reason ?? `rollback by ${caller.name}`, now);
          return;
      }
    });
    return (await findRollout(trx ?? this.deps.db, id))!;
  }

  /** Runs `fn` in `trx` when the caller already holds a transaction, else in a new one. */
  private inTransaction<T>(trx: Db | undefined, fn: (trx: Db) => Promise<T>): Promise<T> {
    return trx === undefined ? this.deps.db.transaction().execute(fn) : fn(trx);
  }

  /**
   * Waits until the rollout reaches one of `until` (default: needs a human or finished) or `timeoutSec`
   * passes, calling `onProgress` whenever a batch starts or completes. Never longer than 55 s.
   */
  async watch(
    id: string,
    opts: {
      until?: readonly RolloutState[];
      timeoutSec: number;
      pollMs?: number;
      signal?: AbortSignal;
      onProgress?: (done: number, total: number, message: string) => Promise<void>;
    },
  ): Promise<{ rollout: Rollout; batches: RolloutBatch[]; reached: boolean; waitedSec: number }> {
    const until = opts.until ?? WATCH_DEFAULT_UNTIL;
    const clock = this.deps.clock;
    const started = clock.now().getTime();
    const deadline = started + Math.min(opts.timeoutSec, MAX_WATCH_SEC) * 1000;
    const sleep = this.deps.sleep ?? defaultSleep;
    let lastKey = '';
    for (;;) {
      const view = await this.get(id);
      const done = view.batches.filter((b) => b.phase === 'completed').length;
      const key = `${view.rollout.state}:${view.rollout.currentBatch}:${done}`;
      if (key !== lastKey && opts.onProgress !== undefined) {
        lastKey = key;
        const current = view.batches[view.rollout.currentBatch];
        await opts.onProgress(
          done,
          view.rollout.batchCount,
          `${view.rollout.state}: ${done}/${view.rollout.batchCount} batches completed` +
            (current === undefined ? '' : `, batch ${current.index} ${current.phase}`),
        );
      }
      const now = clock.now().getTime();
      const reached = until.includes(view.rollout.state);
      if (reached || now >= deadline || opts.signal?.aborted === true) {
        return { ...view, reached, waitedSec: Math.round((now - started) / 1000) };
      }
      await sleep(Math.min(opts.pollMs ?? 1000, deadline - now), opts.signal);
    }
  }

  /** Starts rolling back every instance the rollout changed; refused up front if a previous version is archived. */
  async beginRollback(trx: Db, rollout: Rollout, actor: string, reason: string, now: Date): Promise<void> {
    const archived = await archivedRollbackVersions(trx, rollout.id);
    if (archived.length > 0) {
      throw new ConflictError(
        `cannot roll back rollout ${rollout.id}: previous version ${archived.join(', ')} of ${rollout.moduleName} is archived`,
        {
          hint: 'an admin can restore it (promote_module_version to published), then roll back; or abort instead',
          details: { archived_versions: archived },
        },
      );
    }
    await supersedeApprovals(trx, { subjectId: rollout.id }, { supersededBy: null, edits: null });
    const state = await transitionRollout(trx, rollout, 'rollback', {
      actor,
      kind: 'rollback_started',
      payload: { reason },
      patch: { reason },
      now,
    });
    if (state === 'rolling_back') {
      const count = await startRollback(trx, {
        rolloutId: rollout.id,
        moduleId: rollout.moduleId,
        healthTimeoutSec: rollout.healthTimeoutSec,
        actor,
        now,
      });
      await updateRollout(
        trx,
        rollout.id,
        { reason: `${reason}: ${count} instance(s) restoring their previous version` },
        now,
      );
    }
  }
}

/** The named instances, deduplicated (lower-cased); refuses an empty list or ids that are not uuids. */
function scopeOf(ids: readonly string[]): string[] {
  if (ids.length === 0) {
    throw new InvalidInputError(
      'instance_ids is empty: name at least one instance, or leave it out to upgrade the group',
    );
  }
  const bad = ids.filter((id) => !isUuid(id));
  if (bad.length > 0) {
    throw new InvalidInputError(`not instance ids: ${listed(bad.map((id) => JSON.stringify(id)))}`, {
      hint: 'instance ids are uuids; list_instances shows them',
      details: { instance_ids: bad },
    });
  }
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

/** Why a scoped plan is refused: each named id that is not a live instance of the group, and why. */
async function scopeRefusal(db: Db, group: Group, scope: readonly string[], live: number): Promise<InvalidInputError> {
  const outside = await instancesOutsideScope(db, group.id, scope);
  return new InvalidInputError(
    `${scope.length - live} of the ${scope.length} instance(s) named are not live instances of group ${group.name}: ` +
      `${listed(outside.map((o) => `${o.id} (${o.terminated ? 'terminated' : 'not in the group'})`))}; nothing was planned`,
    {
      hint: 'list_instances shows the group’s live instances; plan again without these',
      details: {
        not_in_group: outside.filter((o) => !o.terminated).map((o) => o.id),
        terminated: outside.filter((o) => o.terminated).map((o) => o.id),
      },
    },
  );
}

/** At most 10 items, then how many more. */
function listed(items: readonly string[]): string {
  return items.length <= 10 ? items.join(', ') : `${items.slice(0, 10).join(', ')} and ${items.length - 10} more`;
}

function activeConflict(moduleName: string, groupName: string, rolloutId: string | null): ConflictError {
  return new ConflictError(
    `another rollout of ${moduleName} in group ${groupName} is active${rolloutId === null ? '' : ` (${rolloutId})`}`,
    {
      hint: 'wait for it to finish, or abort it (abort_rollout) before planning a new one',
      ...(rolloutId === null ? {} : { details: { rollout_id: rolloutId } }),
    },
  );
}

/** What an approver sees about a plan. */
export function planSummary(r: Rollout): Record<string, unknown> {
  return {
    rollout_id: r.id,
    module_name: r.moduleName,
    group: r.groupName,
    target_version: r.targetVersion,
    target_digest: r.targetDigest,
    strategy: r.strategy,
    total_instances: r.totalInstances,
    batch_count: r.batchCount,
    max_consecutive_failures: r.maxConsecutiveFailures,
    health_timeout_sec: r.healthTimeoutSec,
    estimated_total_seconds: estimatedTotalSeconds(r.batchCount, r.healthTimeoutSec, r.soakSec),
  };
}
