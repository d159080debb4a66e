// abort_rollout: stops a rollout for good.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { rolloutIdInput, rolloutView, toRolloutView } from './shared/rollout-views.js';

export default defineTool({
  name: 'abort_rollout',
  title: 'Abort rollout',
  description:
    'Stops a rollout for good, leaving every instance as it is and superseding its pending approvals; writes module.upgrade.aborted.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    reason: safeText({ min: 1, max: 2000 }).optional().describe('why, recorded on the rollout and in the event'),
  },
  output: { rollout: rolloutView },
  handler: async ({ services, caller }, input) => {
    await services.rollouts.control(caller, input.rollout_id, 'abort', input.reason);
    return { rollout: toRolloutView(await services.rollouts.get(input.rollout_id)) };
  },
});
