// list_approvals: approval requests newest first, by status and kind.
import { z } from 'zod';
import { APPROVAL_KINDS, APPROVAL_STATUSES } from '../src/domain/approvals.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { approvalView, toApprovalView } from './shared/approval-views.js';

export default defineTool({
  name: 'list_approvals',
  title: 'List approvals',
  description:
    'Lists approval requests newest first (rollout plans and circuit-breaker continuations), optionally only one status or kind; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    status: z.enum(APPROVAL_STATUSES).optional().describe('only requests in this status, e.g. pending'),
    kind: z.enum(APPROVAL_KINDS).optional().describe('only rollout_plan or rolling_upgrade_continuation requests'),
    ...pagingInput,
  },
  output: { approvals: z.array(approvalView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.approvals.list({
      limit: clampLimit(input.limit),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.kind === undefined ? {} : { kind: input.kind }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toApprovalView);
    return { approvals: items, next_cursor };
  },
});
