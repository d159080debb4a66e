// decide_approval: approves or rejects a request, or edits a pending plan (which supersedes the request).
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { ROLLOUT_STATES } from '../src/domain/rollout-state.js';
import { ConflictError, InvalidInputError } from '../src/errors.js';
import { defineTool, type ToolContext } from '../src/mcp/define-tool.js';
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
    decision: z
      .enum(['approve', 'reject'])
      .optional()
      .describe(
        'approve or reject (rejecting a continuation aborts the rollout); omit to ask the human in the client through a form, when the client supports elicitation — the answer counts as this session’s operator',
      ),
    option: safeText({ min: 1 })
      .optional()
      .describe('required when approving a request with options: continue_anyway, rollback_completed_batches or abort'),
    edits: z
      .strictObject({
        batch_pct: z.number().min(1).max(100).optional().describe('new percent of the group per batch'),
        max_consecutive_failures: z.number().int().min(1).max(1000).optional().describe('new breaker threshold'),
      })
      .optional()
      .describe('re-plan a pending rollout plan instead of deciding it; a new request replaces this one'),
    reason: safeText({ min: 1, max: 2000 }).optional().describe('why, recorded with the decision'),
  },
  output: {
    approval: approvalView,
    new_approval_request_id: z.string().nullable().describe('the request opened by an edit, to decide next'),
    rollout_state: z.enum(ROLLOUT_STATES).nullable().describe('the rollout state after the decision'),
  },
  handler: async ({ services, caller, elicit }, input) => {
    if (input.decision === undefined) {
      if (input.edits !== undefined) throw new InvalidInputError('edits need decision approve');
      const asked = await askHuman(services, input.approval_request_id, elicit);
      input = { ...input, ...asked };
    }
    if (input.edits !== undefined && (input.decision === 'reject' || input.option !== undefined)) {
      throw new InvalidInputError('edits re-plan a pending plan: give them with decision approve and no option', {
        hint: 'decide the plan without edits to reject it; nothing was changed',
      });
    }
    const r = await services.approvals.decide(caller, {
      id: input.approval_request_id,
      decision: input.decision ?? 'reject',
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

/** Asks the human in the client (form elicitation) for a decision on the request. */
async function askHuman(
  services: ToolContext['services'],
  approvalRequestId: string,
  elicit: ToolContext['elicit'],
): Promise<{ decision: 'approve' | 'reject'; option?: string; reason?: string }> {
  if (elicit === undefined) {
    throw new InvalidInputError('decision is required: approve or reject', {
      hint: 'this client cannot show a form to its human (no form elicitation on this session); pass decision',
    });
  }
  const req = await services.approvals.get(approvalRequestId);
  const lines = Object.entries(req.summary).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const answer = await elicit(
    [`Decide approval request ${req.id} (${req.kind}), requested by ${req.requestedBy}:`, ...lines].join('\n'),
    {
      decision: { type: 'string', title: 'Decision', description: 'approve or reject', enum: ['approve', 'reject'] },
      ...(req.options.length === 0
        ? {}
        : { option: { type: 'string', title: 'Option', description: 'what to do when approving', enum: req.options } }),
      reason: { type: 'string', title: 'Reason', description: 'why (recorded with the decision)' },
    },
    ['decision'],
  );
  if (answer.action !== 'accept') {
    throw new ConflictError(`approval request ${req.id} was not decided: the human chose to ${answer.action}`, {
      hint: 'nothing was changed; decide it later',
    });
  }
  const { decision, option, reason } = answer.content;
  if (decision !== 'approve' && decision !== 'reject')
    throw new InvalidInputError('the form came back without a decision');
  return {
    decision,
    ...(decision === 'approve' && typeof option === 'string' && option !== '' ? { option } : {}),
    ...(typeof reason === 'string' && reason !== '' ? { reason } : {}),
  };
}
