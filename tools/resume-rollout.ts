// resume_rollout: resumes a paused rollout.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { rolloutIdInput, rolloutView, toRolloutView } from './shared/rollout-views.js';

export default defineTool({
  name: 'resume_rollout',
  title: 'Resume rollout',
  description:
    'Resumes a paused rollout so the reconciler advances it again on its next tick (a circuit_open rollout needs decide_approval instead); writes module.upgrade.resumed.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    reason: safeText({ min: 1, max: 2000 }).optional().describe('why, recorded in the event'),
  },
  output: { rollout: rolloutView },
  handler: async ({ services, caller }, input) => {
    await services.rollouts.control(caller, input.rollout_id, 'resume', input.reason);
    return { rollout: toRolloutView(await services.rollouts.get(input.rollout_id)) };
  },
});
