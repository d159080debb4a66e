// get_approval: one approval request with what it asks and how it was decided.
import { defineTool } from '../src/mcp/define-tool.js';
import { approvalIdInput, approvalView, toApprovalView } from './shared/approval-views.js';

export default defineTool({
  name: 'get_approval',
  title: 'Get approval',
  description:
    'Shows one approval request: what it asks (plan or breaker trip summary), its options, four-eyes rule, status and decision; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { approval_request_id: approvalIdInput },
  output: { approval: approvalView },
  handler: async ({ services }, input) => ({
    approval: toApprovalView(await services.approvals.get(input.approval_request_id)),
  }),
});
