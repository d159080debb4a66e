// Approvals and intervention policies: types and the rules deciding who may decide what. Pure: no I/O.

export const APPROVAL_KINDS = ['rollout_plan', 'rolling_upgrade_continuation', 'migration_hop'] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired', 'superseded'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const CONTINUATION_OPTIONS = ['continue_anyway', 'rollback_completed_batches', 'abort'] as const;
export type ContinuationOption = (typeof CONTINUATION_OPTIONS)[number];

export const POLICY_MODES = ['auto', 'require_approval', 'blocked'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

/** The intervention policy action a rolling upgrade is governed by. */
export const ROLLING_UPGRADE_ACTION = 'system.fleet_rolling_upgrade';

/** How long an approval request stays decidable. */
export const APPROVAL_TTL_MS = 24 * 3600 * 1000;

export interface InterventionPolicy {
  action: string;
  mode: PolicyMode;
  fourEyes: boolean;
  updatedBy: string;
  updatedAt: Date;
}

export interface ApprovalRequest {
  id: string;
  kind: ApprovalKind;
  subjectType: string;
  subjectId: string;
  summary: Record<string, unknown>;
  options: string[];
  action: string;
  fourEyes: boolean;
  requestedBy: string;
  /** Who requested or edited earlier versions of this plan: under four-eyes, none of them decides it. */
  excludedDeciders: string[];
  status: ApprovalStatus;
  createdAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  decision: 'approve' | 'reject' | null;
  chosenOption: string | null;
  reason: string | null;
  edits: Record<string, unknown> | null;
  supersededBy: string | null;
}

export type DecisionRefusal =
  | { code: 'not_pending'; status: ApprovalStatus }
  | { code: 'expired' }
  | { code: 'four_eyes' }
  | { code: 'option_required'; options: string[] }
  | { code: 'bad_option'; options: string[] }
  | { code: 'option_not_allowed' };

/**
 * Checks a decision against the request before touching the store (the store re-checks four-eyes): under
 * four-eyes neither the requester nor anyone who requested or edited an earlier version may decide.
 */
export function checkDecision(
  req: ApprovalRequest,
  decider: string,
  decision: 'approve' | 'reject',
  option: string | undefined,
  now: Date,
): DecisionRefusal | null {
  if (req.status !== 'pending') return { code: 'not_pending', status: req.status };
  if (req.expiresAt.getTime() <= now.getTime()) return { code: 'expired' };
  if (req.fourEyes && (req.requestedBy === decider || req.excludedDeciders.includes(decider))) {
    return { code: 'four_eyes' };
  }
  if (req.options.length === 0) return option === undefined ? null : { code: 'option_not_allowed' };
  if (decision === 'reject') return option === undefined ? null : { code: 'option_not_allowed' };
  if (option === undefined) return { code: 'option_required', options: req.options };
  if (!req.options.includes(option)) return { code: 'bad_option', options: req.options };
  return null;
}
