// decide_approval: approves or rejects a request, or edits a pending plan (which supersedes the request).
import { z } from 'zod';
import { ROLLOUT_STATES } from '../src/domain/rollout-state.js';
import { InvalidInputError } from '../src/errors.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { approvalIdInput, approvalView, toApprovalView } from './shared/approval-views.js';

export default defineTool({
  name: 'decide_approval',
  title: 'Decide approval',
  description:
    'Approves or rejects an approval request, which starts, continues, rolls back or aborts its rollout, or with edits re-plans a pending plan under a new request; writes approval and module.upgrade events.',
  role: 'approver',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: {
    approval_request_id: approvalIdInput,
    decision: z.enum(['approve', 'reject']).describe('approve or reject (rejecting a continuation aborts the rollout)'),
    option: z
      .string()
      .min(1)
      .optional()
      .describe('required when approving a request with options: continue_anyway, rollback_completed_batches or abort'),
    edits: z
      .strictObject({
        batch_pct: z.number().min(1).max(100).optional().describe('new percent of the group per batch'),
        max_consecutive_failures: z.number().int().min(1).max(1000).optional().describe('new breaker threshold'),
      })
      .optional()
      .describe('re-plan a pending rollout plan instead of deciding it; a new request replaces this one'),
    reason: z.string().min(1).max(2000).optional().describe('why, recorded with the decision'),
  },
  output: {
    approval: approvalView,
    new_approval_request_id: z.string().nullable().describe('the request opened by an edit, to decide next'),
    rollout_state: z.enum(ROLLOUT_STATES).nullable().describe('the rollout state after the decision'),
  },
  handler: async ({ services, caller }, input) => {
    if (input.edits !== undefined && (input.decision === 'reject' || input.option !== undefined)) {
      throw new InvalidInputError('edits re-plan a pending plan: give them with decision approve and no option', {
        hint: 'decide the plan without edits to reject it; nothing was changed',
      });
    }
    const r = await services.approvals.decide(caller, {
      id: input.approval_request_id,
      decision: input.decision,
      ...(input.option === undefined ? {} : { option: input.option }),
      ...(input.edits === undefined ? {} : { edits: input.edits }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return {
      approval: toApprovalView(r.approval),
      new_approval_request_id: r.newApprovalRequestId,
      rollout_state: (r.rolloutState ?? null) as (typeof ROLLOUT_STATES)[number] | null,
    };
  },
});
