// get_rollout: one rollout with its batches and a page of its per-instance targets.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { rolloutIdInput, rolloutView, targetView, toRolloutView, toTargetView } from './shared/rollout-views.js';

export default defineTool({
  name: 'get_rollout',
  title: 'Get rollout',
  description:
    'Shows one rollout: state, progress counters, strategy, circuit breaker, batches, and a page of per-instance targets with their outcomes (limit and cursor page through them); reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    batch_index: z.number().int().min(0).optional().describe('only instances of this batch (0-based)'),
    ...pagingInput,
  },
  output: {
    rollout: rolloutView,
    instances: z.array(targetView).describe('per-instance targets in upgrade order, one page'),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const view = await services.rollouts.get(input.rollout_id);
    const page = await services.rollouts.targets(input.rollout_id, {
      limit: clampLimit(input.limit),
      ...(input.batch_index === undefined ? {} : { batchIndex: input.batch_index }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toTargetView);
    return { rollout: toRolloutView(view), instances: items, next_cursor };
  },
});
