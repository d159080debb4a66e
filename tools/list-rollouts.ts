// list_rollouts: rollouts newest first, by state, group and module.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { optionalGroupRef } from './shared/fleet-views.js';
import { moduleRefFrom } from './shared/views.js';
import { rolloutStateInput, rolloutSummaryView, toRolloutSummaryView } from './shared/rollout-views.js';

export default defineTool({
  name: 'list_rollouts',
  title: 'List rollouts',
  description:
    'Lists rolling upgrades newest first with their state and progress counters, optionally only one state, group or module; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    state: rolloutStateInput.optional().describe('only rollouts in this state, e.g. running or circuit_open'),
    group: safeText({ min: 1 }).optional().describe('only rollouts of this group, by name (or give template_id)'),
    template_id: safeText({ min: 1 }).optional().describe('only rollouts of this group, by id or name (or give group)'),
    module_name: safeText({ min: 1 }).optional().describe('only rollouts of this module, by name (or give module_id)'),
    module_id: safeText({ min: 1 }).optional().describe('only rollouts of this module, by id (or give module_name)'),
    ...pagingInput,
  },
  output: { rollouts: z.array(rolloutSummaryView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const group = optionalGroupRef(input);
    const hasModule = input.module_name !== undefined || input.module_id !== undefined;
    const page = await services.rollouts.list({
      limit: clampLimit(input.limit),
      ...(input.state === undefined ? {} : { state: input.state }),
      ...(group === undefined ? {} : { group }),
      ...(hasModule ? { module: moduleRefFrom(input) } : {}),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toRolloutSummaryView);
    return { rollouts: items, next_cursor };
  },
});
