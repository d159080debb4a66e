// Federated rollouts as the originating platform sees them, and their rules as pure functions: a leg's
// state from its platform's rollout, the overall state from the legs, the synchronized barrier (no leg
// starts batch k+1 until every live leg completed batch k) and what a leg or the rollout waits for.
// Pure: no I/O.
import { z } from 'zod';
import type { RolloutState } from './rollout-state.js';
import type { Strategy } from './strategy.js';

export const COORDINATIONS = ['independent', 'synchronized'] as const;
export type Coordination = (typeof COORDINATIONS)[number];

export const FEDERATED_ROLLOUT_STATES = [
  'running',
  'rolling_back',
  'aborting',
  'completed',
  'failed',
  'aborted',
  'rolled_back',
] as const;
export type FederatedRolloutState = (typeof FEDERATED_ROLLOUT_STATES)[number];

export const LEG_STATES = [
  'requested',
  'pending_approval',
  'running',
  'paused',
  'circuit_open',
  'completed',
  'failed',
  'rolling_back',
  'rolled_back',
  'aborted',
] as const;
export type LegState = (typeof LEG_STATES)[number];

export const FEDERATED_CONTROL_ACTIONS = [
  'pause',
  'pause_peer',
  'resume',
  'rollback',
  'abort',
  'set_coordination',
] as const;
export type FederatedControlAction = (typeof FEDERATED_CONTROL_ACTIONS)[number];

const TERMINAL_LEG: readonly LegState[] = ['completed', 'failed', 'rolled_back', 'aborted'];
const TERMINAL_ROLLOUT: readonly FederatedRolloutState[] = ['completed', 'failed', 'aborted', 'rolled_back'];
/** Leg states in which the barrier matters: the leg has batches ahead of it. */
const GATED: readonly LegState[] = ['requested', 'pending_approval', 'running', 'paused', 'circuit_open'];

export interface FederatedRollout {
  id: string;
  moduleName: string;
  moduleId: string | null;
  targetVersion: string;
  groupName: string;
  strategy: Strategy;
  coordination: Coordination;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
  includeLocal: boolean;
  state: FederatedRolloutState;
  barrierBatch: number | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  reason: string | null;
}

export interface FederatedLeg {
  id: string;
  federatedRolloutId: string;
  /** null: this platform's own leg. */
  federationPeerId: string | null;
  peerName: string;
  groupName: string;
  state: LegState;
  localRolloutId: string | null;
  currentBatch: number;
  batchCount: number | null;
  completedBatches: number;
  healthyTotal: number;
  failedTotal: number;
  pendingApprovalIds: string[];
  waitingFor: string | null;
  lastContactAt: Date | null;
  lostContact: boolean;
  lastError: string | null;
  startOutboxId: string | null;
  updatedAt: Date;
}

/** What a leg's platform reports about it (`rollouts.status` / `rollouts.leg_progress`, one leg). */
export const legReportSchema = z.object({
  federated_rollout_id: z.uuid(),
  rollout_id: z.uuid(),
  state: z.string().min(1).max(40),
  current_batch: z.number().int().min(-1),
  batch_count: z.number().int().min(0),
  completed_batches: z.number().int().min(0),
  healthy_total: z.number().int().min(0),
  failed_total: z.number().int().min(0),
  pending_approval_ids: z.array(z.string()).max(100),
  barrier_batch: z.number().int().min(0).nullable(),
  waiting_for: z.string().max(500).nullable(),
});
export type LegReport = z.infer<typeof legReportSchema>;

export const statusAnswerSchema = z.object({ legs: z.array(legReportSchema) });

/** The answer of `rollouts.start`. */
export const startAnswerSchema = z.object({
  rollout_id: z.uuid(),
  state: z.string(),
  approval_request_id: z.string().nullable().optional(),
  batch_count: z.number().int().min(0),
});

export function isTerminalLeg(state: LegState): boolean {
  return TERMINAL_LEG.includes(state);
}

export function isTerminalRollout(state: FederatedRolloutState): boolean {
  return TERMINAL_ROLLOUT.includes(state);
}

/** A leg's state from its platform's rollout state (a rollout only planned is still `requested`). */
export function legStateOf(state: RolloutState | string): LegState {
  if (state === 'planned') return 'requested';
  return (LEG_STATES as readonly string[]).includes(state) ? (state as LegState) : 'requested';
}

/** The overall state once legs moved: never leaves a terminal state; terminal when every leg is. */
export function overallState(current: FederatedRolloutState, legs: readonly Pick<FederatedLeg, 'state'>[]) {
  if (isTerminalRollout(current)) return current;
  if (legs.some((l) => !isTerminalLeg(l.state))) return current;
  const states = new Set(legs.map((l) => l.state));
  if (current === 'aborting') return 'aborted';
  if (current === 'rolling_back') return states.has('failed') ? 'failed' : 'rolled_back';
  if (legs.length > 0 && legs.every((l) => l.state === 'completed')) return 'completed';
  if (states.has('failed')) return 'failed';
  if (states.has('rolled_back')) return 'rolled_back';
  return 'aborted';
}

/** Batches a leg has completed for the barrier: a leg with every batch done never holds anyone back. */
function completedForBarrier(leg: Pick<FederatedLeg, 'completedBatches' | 'batchCount'>): number {
  return leg.batchCount !== null && leg.completedBatches >= leg.batchCount ? Infinity : leg.completedBatches;
}

/** Legs the barrier waits for: live legs with batches still ahead of them. */
export function gatedLegs<L extends Pick<FederatedLeg, 'state'>>(legs: readonly L[]): L[] {
  return legs.filter((l) => GATED.includes(l.state));
}

/**
 * The barrier a synchronized rollout should have now: k+1 once every live leg has completed batch k
 * (that is, the fewest batches any gated leg completed). Never lower than `current`; null when nothing
 * gates it (every leg finished or rolling back), in which case `current` stands.
 */
export function nextBarrier(
  current: number,
  legs: readonly Pick<FederatedLeg, 'state' | 'completedBatches' | 'batchCount'>[],
): number {
  const gated = gatedLegs(legs);
  if (gated.length === 0) return current;
  const lowest = Math.min(...gated.map(completedForBarrier));
  return Number.isFinite(lowest) ? Math.max(current, lowest) : current;
}

/** The barrier a rollout switched to synchronized starts at: the lowest current batch among live legs. */
export function barrierOnSynchronize(legs: readonly Pick<FederatedLeg, 'state' | 'currentBatch'>[]): number {
  const gated = gatedLegs(legs);
  if (gated.length === 0) return 0;
  return Math.max(0, Math.min(...gated.map((l) => l.currentBatch)));
}

/** The barrier a leg holds at: it completed every batch up to the barrier and may not start the next. */
export function holdsAtBarrier(
  leg: Pick<FederatedLeg, 'state' | 'completedBatches' | 'batchCount'>,
  barrier: number | null,
): boolean {
  if (barrier === null || leg.state !== 'running') return false;
  if (leg.batchCount !== null && leg.completedBatches >= leg.batchCount) return false;
  return leg.completedBatches > barrier;
}

/** What one leg waits for, as the originating platform sees it; null when it is moving on its own. */
export function legWaitingFor(
  leg: Pick<
    FederatedLeg,
    | 'peerName'
    | 'state'
    | 'completedBatches'
    | 'batchCount'
    | 'pendingApprovalIds'
    | 'lostContact'
    | 'lastContactAt'
    | 'waitingFor'
  >,
  rollout: Pick<FederatedRollout, 'coordination' | 'barrierBatch'>,
  others: readonly Pick<FederatedLeg, 'peerName' | 'state' | 'completedBatches' | 'batchCount'>[],
  reported: string | null = null,
): string | null {
  if (isTerminalLeg(leg.state)) return null;
  if (leg.lostContact) {
    return `lost_contact: ${leg.peerName} since ${leg.lastContactAt?.toISOString() ?? 'the rollout started'}`;
  }
  switch (leg.state) {
    case 'requested':
      return `start on ${leg.peerName}: the request is on its way`;
    case 'pending_approval':
      return `pending_approval on ${leg.peerName}${approvals(leg.pendingApprovalIds)}`;
    case 'circuit_open':
      return `circuit_open on ${leg.peerName}: a continuation decision${approvals(leg.pendingApprovalIds)}`;
    case 'paused':
      return `paused on ${leg.peerName}`;
    default:
      break;
  }
  if (rollout.coordination === 'synchronized' && holdsAtBarrier(leg, rollout.barrierBatch)) {
    const batch = rollout.barrierBatch!;
    const laggards = gatedLegs(others)
      .filter((o) => o.peerName !== leg.peerName && completedForBarrier(o) <= batch)
      .map((o) => o.peerName);
    return laggards.length === 0
      ? `barrier: batch ${batch + 1} waits for the barrier to be raised`
      : `barrier: waiting for ${laggards.join(', ')} (batch ${batch})`;
  }
  return reported;
}

function approvals(ids: readonly string[]): string {
  return ids.length === 0 ? '' : ` (approval ${ids.join(', ')})`;
}

/** Why the rollout as a whole is not moving, one line per waiting leg (barrier lines once each). */
export function waitingReasons(legs: readonly Pick<FederatedLeg, 'waitingFor' | 'state'>[]): string[] {
  const out: string[] = [];
  for (const leg of legs) {
    if (leg.waitingFor !== null && !isTerminalLeg(leg.state) && !out.includes(leg.waitingFor)) out.push(leg.waitingFor);
  }
  return out;
}

/** Which leg states each control acts on (the local rollout state machine's legal sources). */
export const CONTROL_SOURCES: Record<'pause' | 'resume' | 'rollback' | 'abort', readonly LegState[]> = {
  pause: ['running'],
  resume: ['paused'],
  rollback: ['running', 'paused', 'circuit_open'],
  abort: ['pending_approval', 'running', 'paused', 'circuit_open'],
};

/** What `rollouts.precheck` answers about one platform. */
export const precheckAnswerSchema = z.object({
  module_found: z.boolean(),
  version_found: z.boolean(),
  lifecycle_state: z.string().nullable(),
  deployable: z.boolean(),
  group_found: z.boolean(),
  instance_count: z.number().int().min(0),
});
export type PrecheckAnswer = z.infer<typeof precheckAnswerSchema>;

/** Why a platform cannot take its leg, from its precheck answer; null when it can. */
export function precheckProblem(
  answer: PrecheckAnswer,
  want: { moduleName: string; targetVersion: string; group: string },
): string | null {
  const problems: string[] = [];
  if (!answer.module_found) problems.push(`module ${want.moduleName} is missing`);
  else if (!answer.version_found) problems.push(`version ${want.targetVersion} of ${want.moduleName} is missing`);
  else if (!answer.deployable) {
    problems.push(
      `version ${want.targetVersion} of ${want.moduleName} is ${answer.lifecycle_state ?? 'not deployable'}, not published, blessed or live`,
    );
  }
  if (!answer.group_found) problems.push(`group ${want.group} is missing`);
  else if (answer.instance_count === 0) problems.push(`group ${want.group} has no live instances`);
  return problems.length === 0 ? null : problems.join('; ');
}
