// Output shapes of the federated rollout tools and the mappers from the service's objects to them: one
// view across peers (each leg's state, batches, counts, approvals, contact and what it waits for).
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import {
  COORDINATIONS,
  FEDERATED_ROLLOUT_STATES,
  LEG_STATES,
  type FederatedLeg,
  type FederatedRollout,
} from '../../src/domain/federated-rollout.js';
import { strategySchema } from '../../src/domain/strategy.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { FederatedRolloutView, LegOutcome } from '../../src/services/federated-rollouts-service.js';

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

export const federatedRolloutIdInput = safeText({ min: 1, max: 100 }).describe(
  'the federated rollout id, as create_federated_rollout or list_federated_rollouts shows it',
);

export const legView = z.object({
  id: z.string(),
  federation_peer_id: z.string().nullable().describe('the peer running this leg; null for this platform’s own leg'),
  peer_name: z.string(),
  group: z.string(),
  state: z.enum(LEG_STATES),
  rollout_id: z.string().nullable().describe('the leg’s rollout on its own platform (its list_rollouts shows it)'),
  current_batch: z.number().int().describe('0-based batch in flight or last started; -1 before the first'),
  batch_count: z.number().int().nullable(),
  completed_batches: z.number().int(),
  healthy_total: z.number().int(),
  failed_total: z.number().int(),
  pending_approval_ids: z.array(z.string()).describe('approvals waiting on that peer (decided there)'),
  waiting_for: z.string().nullable().describe('what this leg waits for, e.g. barrier, an approval, lost contact'),
  last_contact_at: isoTime.nullable().describe('when the leg’s peer last answered about it'),
  lost_contact: z.boolean().describe('true while its peer does not answer: the state shown is the last known'),
  last_error: z.string().nullable(),
  updated_at: isoTime,
});

export function toLegView(l: FederatedLeg): z.infer<typeof legView> {
  return {
    id: l.id,
    federation_peer_id: l.federationPeerId,
    peer_name: l.peerName,
    group: l.groupName,
    state: l.state,
    rollout_id: l.localRolloutId,
    current_batch: l.currentBatch,
    batch_count: l.batchCount,
    completed_batches: l.completedBatches,
    healthy_total: l.healthyTotal,
    failed_total: l.failedTotal,
    pending_approval_ids: l.pendingApprovalIds,
    waiting_for: l.waitingFor,
    last_contact_at: iso(l.lastContactAt),
    lost_contact: l.lostContact,
    last_error: l.lastError,
    updated_at: l.updatedAt.toISOString(),
  };
}

const summaryFields = {
  id: z.string(),
  module_name: z.string(),
  module_id: z.string().nullable().describe('the module on this platform, when it has it'),
  target_version: z.string(),
  group: z.string().describe('the default group on every leg (per_peer_group overrides show on the legs)'),
  strategy: strategySchema,
  coordination: z.enum(COORDINATIONS),
  barrier_batch: z
    .number()
    .int()
    .nullable()
    .describe('synchronized: the highest batch any leg may start now; null when independent'),
  max_consecutive_failures: z.number().int(),
  health_timeout_sec: z.number().int(),
  include_local: z.boolean(),
  state: z.enum(FEDERATED_ROLLOUT_STATES),
  reason: z.string().nullable(),
  created_by: z.string(),
  created_at: isoTime,
  updated_at: isoTime,
  finished_at: isoTime.nullable(),
};

export const federatedRolloutSummaryView = z.object({
  ...summaryFields,
  leg_states: z.record(z.string(), z.number().int()).describe('how many legs are in each state'),
});

export const federatedRolloutView = z.object({
  ...summaryFields,
  waiting: z.array(z.string()).describe('why it is not moving, one line per waiting leg'),
  legs: z.array(legView),
});

function summaryOf(r: FederatedRollout) {
  return {
    id: r.id,
    module_name: r.moduleName,
    module_id: r.moduleId,
    target_version: r.targetVersion,
    group: r.groupName,
    strategy: r.strategy,
    coordination: r.coordination,
    barrier_batch: r.barrierBatch,
    max_consecutive_failures: r.maxConsecutiveFailures,
    health_timeout_sec: r.healthTimeoutSec,
    include_local: r.includeLocal,
    state: r.state,
    reason: r.reason,
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    finished_at: iso(r.finishedAt),
  };
}

export function toFederatedRolloutView(v: FederatedRolloutView): z.infer<typeof federatedRolloutView> {
  return { ...summaryOf(v.rollout), waiting: v.waiting, legs: v.legs.map(toLegView) };
}

export function toFederatedRolloutSummaryView(
  r: FederatedRollout & { legStates: Record<string, number> },
): z.infer<typeof federatedRolloutSummaryView> {
  return { ...summaryOf(r), leg_states: r.legStates };
}

export const legOutcomeView = z.object({
  leg_id: z.string(),
  peer_name: z.string(),
  outcome: z
    .enum(['queued', 'applied', 'skipped'])
    .describe('queued: sent through the outbox (applied once on the peer); applied: this platform’s leg; skipped'),
  detail: z.string(),
});

export function toLegOutcomeView(o: LegOutcome): z.infer<typeof legOutcomeView> {
  return { leg_id: o.leg.id, peer_name: o.leg.peerName, outcome: o.outcome, detail: o.detail };
}
