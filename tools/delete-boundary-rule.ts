// delete_boundary_rule: removes one ingress rule; its creation and deletion stay in the peer's audit log.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { boundaryRuleView, toBoundaryRuleView } from './shared/federation-views.js';

export default defineTool({
  name: 'delete_boundary_rule',
  title: 'Delete boundary rule',
  description:
    'Deletes a boundary rule so it no longer applies to calls from its federation peer, and writes an audit entry on that peer’s log.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: { rule_id: safeText({ min: 1, max: 200 }).describe('the rule id, as list_boundary_rules shows it') },
  output: { boundary_rule: boundaryRuleView.describe('the rule as it was before deletion') },
  handler: async ({ services, caller }, input) => {
    const rule = await services.boundary.delete(caller, input.rule_id);
    return { boundary_rule: toBoundaryRuleView(rule) };
  },
});
