// Rolling-upgrade output shapes shared by the skill, rollout and learning tools, and their mappers.
// Field names follow the rolling-upgrade tutorial so an assistant can read results verbatim.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import { POLICY_MODES } from '../../src/domain/approvals.js';
import { BATCH_PHASES, TARGET_STATES, type Rollout, type RolloutBatch } from '../../src/domain/rollout.js';
import { ROLLOUT_STATES } from '../../src/domain/rollout-state.js';
import { strategySchema } from '../../src/domain/strategy.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { Plan, RolloutsService } from '../../src/services/rollouts-service.js';

type Learning = Plan['relatedLearnings'][number];
type Target = Awaited<ReturnType<RolloutsService['targets']>>['items'][number];

/** Instance ids listed over all batches of one answer, so a plan of many batches stays small. */
export const IDS_BUDGET = 200;

/** Each batch's ids, first batches first, until IDS_BUDGET ids have been listed. */
export function budgetIds(batches: readonly RolloutBatch[]): string[][] {
  let left = IDS_BUDGET;
  return batches.map((b) => {
    const ids = b.instanceIds.slice(0, Math.max(0, left));
    left -= ids.length;
    return ids;
  });
}

/** Where the full plan (every target) of a rollout is readable. */
export const rolloutResource = (rolloutId: string): string => `flotilla://rollouts/${rolloutId}`;

export const rolloutStateInput = z.enum(ROLLOUT_STATES);

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

export const circuitBreakerView = z.object({
  max_consecutive_failures: z.number().int(),
  max_failure_pct: z.number().nullable(),
  min_sample: z.number().int().nullable(),
});

const planBatchView = z.object({
  index: z.number().int(),
  instance_ids: z
    .array(z.string())
    .max(100)
    .describe(
      `instances of the batch in upgrade order: at most 100 per batch and ${IDS_BUDGET} over all batches (the full plan is at the rollout resource)`,
    ),
  instance_count: z.number().int(),
  phase: z.enum(BATCH_PHASES),
});

export const batchView = planBatchView.extend({
  healthy_count: z.number().int(),
  failed_count: z.number().int(),
  started_at: isoTime.nullable(),
  completed_at: isoTime.nullable(),
});

export function toBatchView(b: RolloutBatch, ids: string[] = b.instanceIds): z.infer<typeof batchView> {
  return {
    index: b.index,
    phase: b.phase,
    instance_count: b.instanceCount,
    healthy_count: b.healthyCount,
    failed_count: b.failedCount,
    instance_ids: ids,
    started_at: iso(b.startedAt),
    completed_at: iso(b.completedAt),
  };
}

export const learningRefView = z.object({
  id: z.string(),
  title: z.string(),
  category: z.string(),
  tags: z.array(z.string()),
});

export const learningView = learningRefView.extend({
  content: z.string(),
  created_by: z.string(),
  created_at: isoTime,
});

export function toLearningView(l: Learning): z.infer<typeof learningView> {
  return {
    id: l.id,
    title: l.title,
    category: l.category,
    tags: l.tags,
    content: l.content,
    created_by: l.createdBy,
    created_at: l.createdAt.toISOString(),
  };
}

/** execute_skill's answer: the tutorial's plan fields. */
export const planOutput = {
  rollout_id: z.string().nullable().describe('null on a dry run'),
  dry_run: z.boolean(),
  state: z.enum(ROLLOUT_STATES).nullable().describe('pending_approval or running; null on a dry run'),
  total_instances: z.number().int(),
  batch_size: z.number().int().describe('the largest batch'),
  batch_count: z.number().int(),
  estimated_total_seconds: z.number().int(),
  circuit_breaker: circuitBreakerView,
  strategy: strategySchema,
  health_timeout_sec: z.number().int(),
  batches: z.array(planBatchView),
  approval_request_id: z.string().nullable().describe('the request to decide with decide_approval; null when none'),
  policy: z.object({ mode: z.enum(POLICY_MODES), four_eyes: z.boolean() }),
  related_learnings: z.array(learningRefView),
  plan_resource: z.string().nullable().describe('resource URI with every target of the plan; null on a dry run'),
};

export function toPlanOutput(p: Plan): z.infer<z.ZodObject<typeof planOutput>> {
  const ids = budgetIds(p.batches);
  return {
    rollout_id: p.rolloutId,
    dry_run: p.dryRun,
    state: p.state,
    total_instances: p.totalInstances,
    batch_size: p.batchSize,
    batch_count: p.batchCount,
    estimated_total_seconds: p.estimatedTotalSeconds,
    circuit_breaker: {
      max_consecutive_failures: p.circuitBreaker.maxConsecutiveFailures,
      max_failure_pct: p.circuitBreaker.maxFailurePct,
      min_sample: p.circuitBreaker.minSample,
    },
    strategy: p.strategy,
    health_timeout_sec: p.healthTimeoutSec,
    batches: p.batches.map((b, i) => ({
      index: b.index,
      instance_ids: ids[i] ?? [],
      instance_count: b.instanceCount,
      phase: b.phase,
    })),
    approval_request_id: p.approvalRequestId,
    policy: { mode: p.policy.mode, four_eyes: p.policy.fourEyes },
    related_learnings: p.relatedLearnings.map((l) => ({
      id: l.id,
      title: l.title,
      category: l.category,
      tags: l.tags,
    })),
    plan_resource: p.rolloutId === null ? null : rolloutResource(p.rolloutId),
  };
}

/** A rollout without its batches (list_rollouts). */
export const rolloutSummaryView = z.object({
  id: z.string(),
  state: z.enum(ROLLOUT_STATES),
  group: z.object({ id: z.string(), name: z.string() }),
  module: z.object({ id: z.string(), name: z.string() }),
  target_version: z.object({ id: z.string(), version: z.string(), digest: z.string() }),
  strategy: strategySchema,
  health_timeout_sec: z.number().int(),
  soak_sec: z.number().int(),
  circuit_breaker: circuitBreakerView,
  progress: z.object({
    total_instances: z.number().int(),
    batch_count: z.number().int(),
    current_batch: z.number().int().describe('index of the batch in flight; -1 before the first starts'),
    healthy_total: z.number().int(),
    failed_total: z.number().int(),
    consecutive_failures: z.number().int(),
    breaker_trips: z.number().int(),
  }),
  approval_request_id: z.string().nullable().describe('the pending approval request, if any'),
  federation_rollout_ref: z
    .string()
    .nullable()
    .describe('the federated rollout this rollout is a leg of (on its originating platform); null for a local rollout'),
  federation_origin_peer_id: z
    .string()
    .nullable()
    .describe('the federation peer that started this leg (list_federation_peers); null when started here'),
  scope: z
    .enum(['group', 'instances'])
    .describe('group: every live instance, the baseline moves on completion; instances: only those named'),
  barrier_batch: z
    .number()
    .int()
    .nullable()
    .describe('synchronized leg: the highest batch index it may start until the originating platform raises it'),
  reason: z.string().nullable().describe('why the rollout stopped or is rolling back'),
  requested_by: z.string(),
  created_at: isoTime,
  updated_at: isoTime,
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
  next_batch_at: isoTime.nullable(),
});

export const rolloutView = rolloutSummaryView.extend({ batches: z.array(batchView) });

export function toRolloutSummaryView(r: Rollout): z.infer<typeof rolloutSummaryView> {
  return {
    id: r.id,
    state: r.state,
    group: { id: r.groupId, name: r.groupName },
    module: { id: r.moduleId, name: r.moduleName },
    target_version: { id: r.targetVersionId, version: r.targetVersion, digest: r.targetDigest },
    strategy: r.strategy,
    health_timeout_sec: r.healthTimeoutSec,
    soak_sec: r.soakSec,
    circuit_breaker: {
      max_consecutive_failures: r.maxConsecutiveFailures,
      max_failure_pct: r.maxFailurePct,
      min_sample: r.minSample,
    },
    progress: {
      total_instances: r.totalInstances,
      batch_count: r.batchCount,
      current_batch: r.currentBatch,
      healthy_total: r.healthyTotal,
      failed_total: r.failedTotal,
      consecutive_failures: r.consecutiveFailures,
      breaker_trips: r.breakerTrips,
    },
    approval_request_id: r.approvalRequestId,
    federation_rollout_ref: r.federationRolloutRef,
    federation_origin_peer_id: r.federationOriginPeerId,
    barrier_batch: r.barrierBatch,
    scope: r.instanceIds === null ? 'group' : 'instances',
    reason: r.reason,
    requested_by: r.requestedBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    next_batch_at: iso(r.nextBatchAt),
  };
}

export function toRolloutView(v: { rollout: Rollout; batches: RolloutBatch[] }): z.infer<typeof rolloutView> {
  const ids = budgetIds(v.batches);
  return { ...toRolloutSummaryView(v.rollout), batches: v.batches.map((b, i) => toBatchView(b, ids[i])) };
}

export const targetView = z.object({
  instance_id: z.string(),
  name: z.string(),
  batch_index: z.number().int(),
  state: z.enum(TARGET_STATES),
  outcome_reason: z.string().nullable(),
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
});

export function toTargetView(t: Target): z.infer<typeof targetView> {
  return {
    instance_id: t.instanceId,
    name: t.instanceName,
    batch_index: t.batchIndex,
    state: t.state,
    outcome_reason: t.outcomeReason,
    started_at: iso(t.startedAt),
    finished_at: iso(t.finishedAt),
  };
}

export const rolloutIdInput = safeText({ min: 1 }).describe('rollout id (list_rollouts shows them)');
