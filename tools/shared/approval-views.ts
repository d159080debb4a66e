// Approval request and intervention policy output shapes, and their mappers.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import {
  APPROVAL_KINDS,
  APPROVAL_STATUSES,
  POLICY_MODES,
  type ApprovalRequest,
  type InterventionPolicy,
} from '../../src/domain/approvals.js';
import { isoTime } from '../../src/mcp/schemas.js';

export const approvalView = z.object({
  id: z.string(),
  kind: z.enum(APPROVAL_KINDS),
  subject_type: z.string(),
  subject_id: z.string(),
  summary: z.record(z.string(), z.unknown()).describe('what is being approved: the plan, or the breaker trip'),
  options: z.array(z.string()).describe('options an approval must choose one of; empty for a plan'),
  action: z.string().describe('the intervention policy action governing this request'),
  four_eyes: z.boolean().describe('when true the requester cannot decide it'),
  requested_by: z.string(),
  excluded_deciders: z
    .array(z.string())
    .describe('who requested or edited earlier versions of this plan: under four-eyes none of them may decide it'),
  status: z.enum(APPROVAL_STATUSES),
  created_at: isoTime,
  expires_at: isoTime,
  decided_by: z.string().nullable(),
  decided_at: isoTime.nullable(),
  decision: z.enum(['approve', 'reject']).nullable(),
  option: z.string().nullable(),
  reason: z.string().nullable(),
  superseded_by: z.string().nullable().describe('the request an edit opened in place of this one'),
});

export function toApprovalView(a: ApprovalRequest): z.infer<typeof approvalView> {
  return {
    id: a.id,
    kind: a.kind,
    subject_type: a.subjectType,
    subject_id: a.subjectId,
    summary: a.summary,
    options: a.options,
    action: a.action,
    four_eyes: a.fourEyes,
    requested_by: a.requestedBy,
    excluded_deciders: a.excludedDeciders,
    status: a.status,
    created_at: a.createdAt.toISOString(),
    expires_at: a.expiresAt.toISOString(),
    decided_by: a.decidedBy,
    decided_at: a.decidedAt?.toISOString() ?? null,
    decision: a.decision,
    option: a.chosenOption,
    reason: a.reason,
    superseded_by: a.supersededBy,
  };
}

export const approvalIdInput = safeText({ min: 1 }).describe('approval request id (list_approvals shows them)');

export const policyView = z.object({
  action: z.string(),
  mode: z.enum(POLICY_MODES),
  four_eyes: z.boolean(),
  updated_by: z.string(),
  updated_at: isoTime,
});

export function toPolicyView(p: InterventionPolicy): z.infer<typeof policyView> {
  return {
    action: p.action,
    mode: p.mode,
    four_eyes: p.fourEyes,
    updated_by: p.updatedBy,
    updated_at: p.updatedAt.toISOString(),
  };
}
