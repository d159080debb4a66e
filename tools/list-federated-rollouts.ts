// list_federated_rollouts: federated rollouts created on this platform, newest first.
import { z } from 'zod';
import { FEDERATED_ROLLOUT_STATES } from '../src/domain/federated-rollout.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { federatedRolloutSummaryView, toFederatedRolloutSummaryView } from './shared/federated-rollout-views.js';

export default defineTool({
  name: 'list_federated_rollouts',
  title: 'List federated rollouts',
  description:
    'Lists the federated rollouts created on this platform newest first, with their state, coordination and how many legs are in each state, optionally only one state; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    state: z.enum(FEDERATED_ROLLOUT_STATES).optional().describe('only federated rollouts in this state, e.g. running'),
    ...pagingInput,
  },
  output: { federated_rollouts: z.array(federatedRolloutSummaryView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.federatedRollouts.list({
      limit: clampLimit(input.limit),
      ...(input.state === undefined ? {} : { state: input.state }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toFederatedRolloutSummaryView);
    return { federated_rollouts: items, next_cursor };
  },
});
