// list_intervention_policies: which actions run automatically, need approval, or are blocked.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pageByKey, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { policyView, toPolicyView } from './shared/approval-views.js';

export default defineTool({
  name: 'list_intervention_policies',
  title: 'List intervention policies',
  description:
    'Lists the intervention policies (e.g. system.fleet_rolling_upgrade): whether each action runs automatically, needs an approval (with or without four-eyes) or is blocked; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: { policies: z.array(policyView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = pageByKey(await services.policies.list(), (p) => p.action, clampLimit(input.limit), input.cursor);
    const { items, next_cursor } = shapePage(page, toPolicyView);
    return { policies: items, next_cursor };
  },
});
