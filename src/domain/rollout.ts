// Rollout records as services see them. Types only: no I/O.
import type { RolloutState } from './rollout-state.js';
import type { Strategy } from './strategy.js';

export interface Rollout {
  id: string;
  groupId: string;
  groupName: string;
  moduleId: string;
  moduleName: string;
  targetVersionId: string;
  targetVersion: string;
  targetDigest: string;
  strategy: Strategy;
  maxConsecutiveFailures: number;
  healthTimeoutSec: number;
  maxFailurePct: number | null;
  minSample: number | null;
  soakSec: number;
  state: RolloutState;
  totalInstances: number;
  batchCount: number;
  currentBatch: number;
  consecutiveFailures: number;
  failureRunIds: string[];
  healthyTotal: number;
  failedTotal: number;
  breakerTrips: number;
  nextBatchAt: Date | null;
  requestedBy: string;
  approvalRequestId: string | null;
  federationRolloutRef: string | null;
  /** The peer that started this rollout as its leg of a federated rollout; null for local rollouts. */
  federationOriginPeerId: string | null;
  /** Synchronized leg: the highest batch index the runner may start; null = no barrier. */
  barrierBatch: number | null;
  /** Scoped to these instances of the group (they keep the target as an override on completion); null: all. */
  instanceIds: string[] | null;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const TARGET_STATES = [
  'pending',
  'upgrading',
  'healthy',
  'failed',
  'rolling_back',
  'rolled_back',
  'skipped',
] as const;
export type TargetState = (typeof TARGET_STATES)[number];

export const BATCH_PHASES = ['pending', 'running', 'completed', 'halted'] as const;
export type BatchPhase = (typeof BATCH_PHASES)[number];

export interface RolloutBatch {
  index: number;
  phase: BatchPhase;
  instanceCount: number;
  healthyCount: number;
  failedCount: number;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Up to 100 instance ids, in upgrade order. */
  instanceIds: string[];
}
