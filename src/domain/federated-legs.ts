// The target side of federated rollouts as pure rules: the arguments of the peer operations a platform
// answers for a leg (precheck, start, control, status), the status it reports for a leg, when the runner
// holds a synchronized leg at its barrier, and what a leg waits for. No I/O.
import { z } from 'zod';
import type { Rollout } from './rollout.js';
import { strategySchema } from './strategy.js';

/** Operation names of the federated-rollout contract; every platform answers the first four. */
export const LEG_OPERATIONS = {
  precheck: 'rollouts.precheck',
  start: 'rollouts.start',
  control: 'rollouts.control',
  status: 'rollouts.status',
  /** Sent by a target to the origin (the origin answers it). */
  progress: 'rollouts.leg_progress',
} as const;

const federatedRolloutId = z.string().min(1).max(128);
const name = z.string().min(1).max(200);
const barrier = z.number().int().min(0).max(1_000_000);

export const precheckArgsSchema = z.strictObject({ module_name: name, target_version: name, group: name });
export type PrecheckArgs = z.infer<typeof precheckArgsSchema>;

/** What rollouts.precheck answers: can this platform run a leg of that version in that group? */
export interface PrecheckAnswer {
  module_found: boolean;
  version_found: boolean;
  lifecycle_state: string | null;
  deployable: boolean;
  group_found: boolean;
  instance_count: number;
}

export const startArgsSchema = z.strictObject({
  federated_rollout_id: federatedRolloutId,
  module_name: name,
  target_version: name,
  group: name,
  strategy: strategySchema,
  max_consecutive_failures: z.number().int().min(1).max(1000),
  health_timeout_sec: z.number().int().min(1).max(86_400),
  barrier_batch: barrier.nullable(),
});
export type StartArgs = z.infer<typeof startArgsSchema>;

export interface StartAnswer {
  rollout_id: string;
  state: string;
  approval_request_id: string | null;
  batch_count: number;
}

export const LEG_ACTIONS = ['pause', 'resume', 'rollback', 'abort', 'set_barrier'] as const;
export type LegAction = (typeof LEG_ACTIONS)[number];

export const controlArgsSchema = z
  .strictObject({
    federated_rollout_id: federatedRolloutId,
    action: z.enum(LEG_ACTIONS),
    barrier_batch: barrier.nullable().optional(),
    reason: z.string().min(1).max(500).optional(),
  })
  .refine((a) => a.action !== 'set_barrier' || a.barrier_batch !== undefined, {
    path: ['barrier_batch'],
    message: 'set_barrier needs barrier_batch (a batch index, or null for no barrier)',
  });
export type ControlArgs = z.infer<typeof controlArgsSchema>;

export const statusArgsSchema = z.strictObject({
  federated_rollout_ids: z.array(federatedRolloutId).max(500),
});
export type StatusArgs = z.infer<typeof statusArgsSchema>;

/** One leg as its platform reports it: rollouts.status, rollouts.control's answer, rollouts.leg_progress. */
export interface LegStatus {
  federated_rollout_id: string;
  rollout_id: string;
  state: string;
  current_batch: number;
  batch_count: number;
  completed_batches: number;
  healthy_total: number;
  failed_total: number;
  pending_approval_ids: string[];
  barrier_batch: number | null;
  waiting_for: string | null;
}

/** True when a synchronized leg may not start batch `next` yet. The last batch's completion never waits. */
export function heldAtBarrier(r: Pick<Rollout, 'barrierBatch' | 'batchCount'>, next: number): boolean {
  return r.barrierBatch !== null && next < r.batchCount && next > r.barrierBatch;
}

/**
 * What a leg waits for, in words an operator reads and the origin can match (`barrier: batch <n>`):
 * an approval, a resume, the barrier, a soak, or its batch in flight; null when it waits for nothing.
 */
export function legWaitingFor(
  r: Pick<Rollout, 'state' | 'approvalRequestId' | 'barrierBatch' | 'batchCount' | 'currentBatch' | 'nextBatchAt'>,
  completedBatches: number,
  now: Date,
): string | null {
  switch (r.state) {
    case 'pending_approval':
      return `approval ${r.approvalRequestId ?? ''}`.trim();
    case 'circuit_open':
      return `circuit breaker: continuation approval ${r.approvalRequestId ?? ''}`.trim();
    case 'paused':
      return 'resume';
    case 'rolling_back':
      return 'rollback: instances restoring their previous version';
    case 'running': {
      const next = r.currentBatch + 1;
      const currentDone = r.currentBatch < 0 || completedBatches > r.currentBatch;
      if (!currentDone) return `health: batch ${r.currentBatch}`;
      if (heldAtBarrier(r, next)) return `barrier: batch ${next}`;
      if (r.nextBatchAt !== null && r.nextBatchAt.getTime() > now.getTime()) {
        return `soak: until ${r.nextBatchAt.toISOString()}`;
      }
      return next < r.batchCount ? `start: batch ${next}` : 'completion';
    }
    default:
      return null;
  }
}

/** The status element of a leg, from its rollout, its completed batch count and its pending approvals. */
export function legStatus(
  r: Rollout,
  completedBatches: number,
  pendingApprovalIds: readonly string[],
  now: Date,
): LegStatus {
  return {
    federated_rollout_id: r.federationRolloutRef ?? '',
    rollout_id: r.id,
    state: r.state,
    current_batch: r.currentBatch,
    batch_count: r.batchCount,
    completed_batches: completedBatches,
    healthy_total: r.healthyTotal,
    failed_total: r.failedTotal,
    pending_approval_ids: [...pendingApprovalIds],
    barrier_batch: r.barrierBatch,
    waiting_for: legWaitingFor(r, completedBatches, now),
  };
}
