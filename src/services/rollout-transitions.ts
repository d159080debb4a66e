// The one way a rollout changes state: check the state machine, write the row and its event in the
// caller's transaction. Used by the planner, operator controls, approvals and the runner.
import {
  APPROVAL_TTL_MS,
  CONTINUATION_OPTIONS,
  ROLLING_UPGRADE_ACTION,
  type ApprovalRequest,
} from '../domain/approvals.js';
import type { Rollout } from '../domain/rollout.js';
import { legalRolloutEvents, nextRolloutState, type RolloutEvent, type RolloutState } from '../domain/rollout-state.js';
import { IllegalTransitionError } from '../errors.js';
import { insertApproval } from '../store/approvals-repository.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { updateRollout, type RolloutPatch } from '../store/rollouts-repository.js';

/** Applies `event` to a locked rollout, writing the patch and a `module.upgrade.<kind>` event. */
export async function transitionRollout(
  trx: Db,
  rollout: Rollout,
  event: RolloutEvent,
  e: { actor: string; kind: string; payload?: Record<string, unknown>; patch?: RolloutPatch; now: Date },
): Promise<RolloutState> {
  const next = nextRolloutState(rollout.state, event);
  if (next === null) {
    const legal = legalRolloutEvents(rollout.state);
    throw new IllegalTransitionError(
      `rollout ${rollout.id} is ${rollout.state}; it cannot ${event.replace('_', ' ')}`,
      {
        hint: legal.length === 0 ? 'the rollout has finished' : `in ${rollout.state} it can: ${legal.join(', ')}`,
        details: { state: rollout.state },
      },
    );
  }
  const terminal = next === 'completed' || next === 'aborted' || next === 'rolled_back' || next === 'failed';
  await updateRollout(trx, rollout.id, { ...e.patch, state: next, ...(terminal ? { finishedAt: e.now } : {}) }, e.now);
  await appendEvent(
    trx,
    {
      kind: `module.upgrade.${e.kind}`,
      actor: e.actor,
      payload: {
        rollout_id: rollout.id,
        module_name: rollout.moduleName,
        group: rollout.groupName,
        target_version: rollout.targetVersion,
        from_state: rollout.state,
        to_state: next,
        ...e.payload,
      },
    },
    e.now,
  );
  return next;
}

/** Opens the continuation approval a tripped breaker asks for. */
export async function openContinuationApproval(
  trx: Db,
  rollout: Rollout,
  trip: { batchIndex: number; failedInstanceIds: string[]; reason: string },
  fourEyes: boolean,
  now: Date,
): Promise<ApprovalRequest> {
  return insertApproval(trx, {
    kind: 'rolling_upgrade_continuation',
    subjectType: 'rollout',
    subjectId: rollout.id,
    summary: {
      rollout_id: rollout.id,
      module_name: rollout.moduleName,
      group: rollout.groupName,
      target_version: rollout.targetVersion,
      batch_index: trip.batchIndex,
      failed_instance_ids: trip.failedInstanceIds,
      reason: trip.reason,
    },
    options: [...CONTINUATION_OPTIONS],
    action: ROLLING_UPGRADE_ACTION,
    fourEyes,
    requestedBy: rollout.requestedBy,
    createdAt: now,
    expiresAt: new Date(now.getTime() + APPROVAL_TTL_MS),
  });
}
