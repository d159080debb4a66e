// Approval requests: list, read, decide (with edits that re-plan), and expire. A decision and its
// effect on the rollout commit together; concurrent deciders produce exactly one transition.
import {
  APPROVAL_TTL_MS,
  checkDecision,
  type ApprovalKind,
  type ApprovalRequest,
  type ApprovalStatus,
} from '../domain/approvals.js';
import { resetAfterContinue } from '../domain/breaker.js';
import { isUuid } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import { batchSizes, batchStarts, type Strategy } from '../domain/strategy.js';
import { ConflictError, FlotillaError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import {
  decideApproval,
  expireApprovals,
  findApproval,
  insertApproval,
  listApprovals,
  supersedeApprovals,
} from '../store/approvals-repository.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { countLiveInstances, deletePlan, insertPlan } from '../store/rollout-targets-repository.js';
import { findRollout, lockRolloutsWithDueApprovals, updateRollout } from '../store/rollouts-repository.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';
import { transitionRollout } from './rollout-transitions.js';
import { planSummary, type RolloutsService } from './rollouts-service.js';

export interface PlanEdits {
  batch_pct?: number;
  max_consecutive_failures?: number;
}

export interface DecisionResult {
  approval: ApprovalRequest;
  /** The request an edit opened in place of the decided one. */
  newApprovalRequestId: string | null;
  rolloutState: string | null;
}

/** Maps the database's own refusals (four-eyes CHECK, approver trigger) to caller errors. */
function mapDbRefusal(err: unknown): never {
  const code = (err as { code?: string }).code;
  const constraint = (err as { constraint?: string }).constraint;
  if (code === '23514' && constraint === 'approval_four_eyes') {
    throw new ForbiddenError('four-eyes: whoever requested or edited this plan cannot decide it', {
      hint: 'an operator with the approver role who neither requested nor edited it must decide it',
    });
  }
  if (code === '42501') {
    throw new ForbiddenError('only an active approver or admin may decide approval requests', {
      hint: 'ask an approver',
    });
  }
  throw err;
}

/** Applies a decided request of a kind other services own, in the decision's transaction; answers a state. */
export type DecisionHook = (trx: Db, req: ApprovalRequest, caller: Caller, now: Date) => Promise<string | null>;

export class ApprovalsService {
  private readonly decisionHooks = new Map<ApprovalKind, DecisionHook>();
  private readonly expiryHooks = new Map<ApprovalKind, (trx: Db, req: ApprovalRequest, now: Date) => Promise<void>>();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly rollouts: RolloutsService,
  ) {}

  /** Routes decisions of `kind` (not a rollout's) to `hook`, e.g. a migration hop's gate. */
  onDecided(kind: ApprovalKind, hook: DecisionHook): void {
    this.decisionHooks.set(kind, hook);
  }

  /** Tells `hook`, in the expiry's transaction, that a request of `kind` expired undecided. */
  onExpired(kind: ApprovalKind, hook: (trx: Db, req: ApprovalRequest, now: Date) => Promise<void>): void {
    this.expiryHooks.set(kind, hook);
  }

  async get(id: string): Promise<ApprovalRequest> {
    const found = isUuid(id) ? await findApproval(this.deps.db, id) : null;
    if (found === null) throw new NotFoundError(`no approval request ${id}`, { hint: 'list_approvals shows them' });
    return found;
  }

  async list(f: {
    status?: ApprovalStatus;
    kind?: ApprovalKind;
    limit: number;
    cursor?: string;
  }): Promise<Page<ApprovalRequest>> {
    const before = f.cursor === undefined ? undefined : decodeTimeIdCursor(f.cursor);
    const rows = await listApprovals(this.deps.db, {
      limit: f.limit,
      ...(f.status === undefined ? {} : { status: f.status }),
      ...(f.kind === undefined ? {} : { kind: f.kind }),
      ...(before === undefined ? {} : { before }),
    });
    return toPage(rows, f.limit, (a) => ({ created_at: a.createdAt.toISOString(), id: a.id }));
  }

  async decide(
    caller: Caller,
    input: { id: string; decision: 'approve' | 'reject'; option?: string; edits?: PlanEdits; reason?: string },
  ): Promise<DecisionResult> {
    requireRole(caller, 'approver', 'deciding an approval request');
    if (!isUuid(input.id)) throw new NotFoundError(`no approval request ${input.id}`);
    try {
      return await this.deps.db.transaction().execute(async (trx) => {
        const now = this.deps.clock.now();
        // Lock order everywhere: the rollout row, then its approval requests (operator controls and the
        // expiry do the same); the other order deadlocks against abort_rollout.
        const subject = await findApproval(trx, input.id);
        if (subject === null)
          throw new NotFoundError(`no approval request ${input.id}`, { hint: 'list_approvals shows them' });
        await findRollout(trx, subject.subjectId, { forUpdate: true });
        const req = (await findApproval(trx, input.id, { forUpdate: true }))!;
        if (input.edits !== undefined && Object.keys(input.edits).length > 0) {
          return await this.edit(trx, req, caller, input.edits, input.reason ?? null, now);
        }
        const refusal = checkDecision(req, caller.name, input.decision, input.option, now);
        if (refusal !== null) throw refusalError(req, caller.name, refusal);
        const decided = await decideApproval(trx, {
          id: req.id,
          decidedBy: caller.name,
          decision: input.decision,
          option: input.option ?? null,
          reason: input.reason ?? null,
          at: now,
        });
        if (decided === null) throw new ConflictError(`approval request ${req.id} was decided meanwhile`);
        await appendEvent(
          trx,
          {
            kind: `approval.${decided.status}`,
            actor: caller.name,
            payload: {
              approval_request_id: req.id,
              kind: req.kind,
              rollout_id: req.subjectId,
              option: input.option ?? null,
              reason: input.reason ?? null,
            },
          },
          now,
        );
        const hook = this.decisionHooks.get(decided.kind);
        const rolloutState =
          hook === undefined
            ? await this.applyToRollout(trx, decided, caller.name, now)
            : await hook(trx, decided, caller, now);
        return { approval: decided, newApprovalRequestId: null, rolloutState };
      });
    } catch (err) {
      if (err instanceof FlotillaError) throw err;
      return mapDbRefusal(err);
    }
  }

  private async applyToRollout(trx: Db, req: ApprovalRequest, actor: string, now: Date): Promise<string | null> {
    const rollout = await findRollout(trx, req.subjectId, { forUpdate: true });
    if (rollout === null) return null;
    const payload = { approval_request_id: req.id, decided_by: actor };
    if (req.kind === 'rollout_plan') {
      return req.status === 'approved'
        ? transitionRollout(trx, rollout, 'approve', {
            actor,
            kind: 'approved',
            payload,
            patch: { startedAt: now },
            now,
          })
        : transitionRollout(trx, rollout, 'reject', {
            actor,
            kind: 'rejected',
            payload,
            patch: { reason: `plan rejected by ${actor}` },
            now,
          });
    }
    const option = req.status === 'approved' ? req.chosenOption : 'abort';
    switch (option) {
      case 'continue_anyway': {
        const reset = resetAfterContinue({
          consecutive: rollout.consecutiveFailures,
          runIds: rollout.failureRunIds,
          healthyTotal: rollout.healthyTotal,
          failedTotal: rollout.failedTotal,
        });
        return transitionRollout(trx, rollout, 'continue', {
          actor,
          kind: 'continued',
          payload: { ...payload, option },
          patch: { consecutiveFailures: reset.consecutive, failureRunIds: reset.runIds, approvalRequestId: null },
          now,
        });
      }
      case 'rollback_completed_batches':
        await this.rollouts.beginRollback(trx, rollout, actor, `rollback_completed_batches chosen by ${actor}`, now);
        return 'rolling_back';
      default:
        return transitionRollout(trx, rollout, 'abort', {
          actor,
          kind: 'aborted',
          payload: { ...payload, option: 'abort' },
          patch: { reason: `aborted after circuit breaker by ${actor}` },
          now,
        });
    }
  }

  /** An edit re-plans a pending plan: the request is superseded by a new one the editor requests. */
  private async edit(
    trx: Db,
    req: ApprovalRequest,
    caller: Caller,
    edits: PlanEdits,
    reason: string | null,
    now: Date,
  ): Promise<DecisionResult> {
    if (req.kind !== 'rollout_plan') throw new InvalidInputError('edits apply to rollout_plan requests only');
    if (req.status !== 'pending')
      throw new ConflictError(`approval request ${req.id} is ${req.status}; only a pending plan can be edited`);
    if (req.expiresAt.getTime() <= now.getTime())
      throw new ConflictError(`approval request ${req.id} has expired`, { hint: 'plan again' });
    const rollout = await findRollout(trx, req.subjectId, { forUpdate: true });
    if (rollout === null || rollout.state !== 'pending_approval')
      throw new ConflictError('the plan is no longer awaiting approval');
    const strategy: Strategy =
      edits.batch_pct === undefined ? rollout.strategy : { type: 'batch', batch_pct: edits.batch_pct };
    const maxConsecutiveFailures = edits.max_consecutive_failures ?? rollout.maxConsecutiveFailures;
    if (
      JSON.stringify(strategy) === JSON.stringify(rollout.strategy) &&
      maxConsecutiveFailures === rollout.maxConsecutiveFailures
    ) {
      throw new InvalidInputError(
        `the edits change nothing: the plan already has ${describeEdits(rollout.strategy, rollout.maxConsecutiveFailures)}`,
        { hint: 'approve or reject the plan as it is, or send values that differ from the plan' },
      );
    }
    const total = await countLiveInstances(trx, rollout.groupId, rollout.instanceIds);
    const sizes = batchSizes(total, strategy);
    await deletePlan(trx, rollout.id);
    await insertPlan(trx, {
      rolloutId: rollout.id,
      groupId: rollout.groupId,
      moduleId: rollout.moduleId,
      moduleName: rollout.moduleName,
      sizes,
      starts: batchStarts(sizes),
      scope: rollout.instanceIds,
    });
    await updateRollout(
      trx,
      rollout.id,
      { strategy, maxConsecutiveFailures, batchCount: sizes.length, requestedBy: caller.name },
      now,
    );
    const replanned = (await findRollout(trx, rollout.id))!;
    const next = await insertApproval(trx, {
      kind: 'rollout_plan',
      subjectType: 'rollout',
      subjectId: rollout.id,
      summary: { ...planSummary(replanned), total_instances: total, edited_from: req.id },
      options: [],
      action: req.action,
      fourEyes: req.fourEyes,
      requestedBy: caller.name,
      // Everyone who requested or edited a version of this plan stays unable to decide it.
      excludedDeciders: [...new Set([...req.excludedDeciders, req.requestedBy])].filter((n) => n !== caller.name),
      createdAt: now,
      expiresAt: new Date(now.getTime() + APPROVAL_TTL_MS),
    });
    await supersedeApprovals(
      trx,
      { id: req.id },
      { supersededBy: next.id, edits: { ...edits, by: caller.name, reason } },
    );
    await updateRollout(trx, rollout.id, { approvalRequestId: next.id }, now);
    await appendEvent(
      trx,
      {
        kind: 'module.upgrade.replanned',
        actor: caller.name,
        payload: {
          rollout_id: rollout.id,
          superseded_approval_request_id: req.id,
          approval_request_id: next.id,
          edits,
          batch_count: sizes.length,
        },
      },
      now,
    );
    return {
      approval: (await findApproval(trx, req.id))!,
      newApprovalRequestId: next.id,
      rolloutState: 'pending_approval',
    };
  }

  /** Fails closed: expired requests stop their rollout. Run by the reconciler. */
  async expireDue(now: Date): Promise<number> {
    return this.deps.db.transaction().execute(async (trx) => {
      await lockRolloutsWithDueApprovals(trx, now); // rollouts before their requests, as everywhere
      const expired = await expireApprovals(trx, now);
      for (const req of expired) {
        await appendEvent(
          trx,
          {
            kind: 'approval.expired',
            actor: 'reconciler',
            payload: { approval_request_id: req.id, kind: req.kind, rollout_id: req.subjectId },
          },
          now,
        );
        await this.expiryHooks.get(req.kind)?.(trx, req, now);
        const rollout = await findRollout(trx, req.subjectId, { forUpdate: true });
        if (
          rollout !== null &&
          (rollout.state === 'pending_approval' || rollout.state === 'circuit_open') &&
          rollout.approvalRequestId === req.id
        ) {
          await transitionRollout(trx, rollout, 'expire', {
            actor: 'reconciler',
            kind: 'aborted',
            payload: { approval_request_id: req.id, reason: 'approval expired' },
            patch: { reason: `approval request ${req.id} expired` },
            now,
          });
        }
      }
      return expired.length;
    });
  }
}

function refusalError(
  req: ApprovalRequest,
  decider: string,
  r: NonNullable<ReturnType<typeof checkDecision>>,
): FlotillaError {
  switch (r.code) {
    case 'not_pending':
      return new ConflictError(
        `approval request ${req.id} is ${r.status}${req.decidedBy === null ? '' : ` (decided by ${req.decidedBy})`}`,
        {
          hint:
            r.status === 'superseded' && req.supersededBy !== null
              ? `decide ${req.supersededBy} instead`
              : 'nothing to decide',
        },
      );
    case 'expired':
      return new ConflictError(`approval request ${req.id} expired at ${req.expiresAt.toISOString()}`, {
        hint: 'plan again',
      });
    case 'four_eyes':
      return new ForbiddenError(
        decider === req.requestedBy
          ? `four-eyes: ${req.requestedBy} requested this and cannot decide it`
          : `four-eyes: ${decider} requested or edited an earlier version of this plan and cannot decide it`,
        {
          hint: 'an operator with the approver role who neither requested nor edited it must decide it',
          details: { requested_by: req.requestedBy, excluded_deciders: req.excludedDeciders },
        },
      );
    case 'option_required':
      return new InvalidInputError(`option is required: one of ${r.options.join(', ')}`);
    case 'bad_option':
      return new InvalidInputError(`option must be one of ${r.options.join(', ')}`);
    case 'option_not_allowed':
      return new InvalidInputError('option only applies when approving a request that lists options');
  }
}

/** The plan's editable values, as a refused no-op edit names them. */
function describeEdits(strategy: Strategy, maxConsecutiveFailures: number): string {
  const shape = strategy.type === 'batch' ? `batch_pct ${strategy.batch_pct}` : `a ${strategy.type} strategy`;
  return `${shape} and max_consecutive_failures ${maxConsecutiveFailures}`;
}
