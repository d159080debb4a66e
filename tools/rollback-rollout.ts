// rollback_rollout: restores the instances a rollout changed.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { rolloutIdInput, rolloutView, toRolloutView } from './shared/rollout-views.js';

export default defineTool({
  name: 'rollback_rollout',
  title: 'Roll back rollout',
  description:
    'Stops a rollout and restores every instance it changed to its previous version (refused when that version is archived); writes module.upgrade.rollback_started.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    reason: safeText({ min: 1, max: 2000 }).optional().describe('why, recorded on the rollout and in the event'),
  },
  output: { rollout: rolloutView },
  handler: async ({ services, caller }, input) => {
    await services.rollouts.control(caller, input.rollout_id, 'rollback', input.reason);
    return { rollout: toRolloutView(await services.rollouts.get(input.rollout_id)) };
  },
});
