// pause_rollout: pauses a running rollout.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { rolloutIdInput, rolloutView, toRolloutView } from './shared/rollout-views.js';

export default defineTool({
  name: 'pause_rollout',
  title: 'Pause rollout',
  description:
    'Pauses a running rollout: instances already upgrading are still health-checked but no further batch starts until resume_rollout; writes module.upgrade.paused.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    reason: safeText({ min: 1, max: 2000 }).optional().describe('why, recorded in the event'),
  },
  output: { rollout: rolloutView },
  handler: async ({ services, caller }, input) => {
    await services.rollouts.control(caller, input.rollout_id, 'pause', input.reason);
    return { rollout: toRolloutView(await services.rollouts.get(input.rollout_id)) };
  },
});
