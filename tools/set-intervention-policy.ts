// set_intervention_policy: changes how an action is governed (auto, require_approval, blocked).
import { z } from 'zod';
import { POLICY_MODES, ROLLING_UPGRADE_ACTION } from '../src/domain/approvals.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { policyView, toPolicyView } from './shared/approval-views.js';

export default defineTool({
  name: 'set_intervention_policy',
  title: 'Set intervention policy',
  description:
    'Sets whether an action runs automatically, needs an approval (four_eyes: by someone other than the requester) or is blocked, for plans made from now on; writes policy.intervention.updated.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  input: {
    action: z.enum([ROLLING_UPGRADE_ACTION]).describe('the governed action, e.g. system.fleet_rolling_upgrade'),
    mode: z
      .enum(POLICY_MODES)
      .describe('auto: run without approval; require_approval: open an approval request; blocked: refuse'),
    four_eyes: z.boolean().describe('true: whoever requested a change may not approve it'),
  },
  output: { policy: policyView },
  handler: async ({ services, caller }, input) => ({
    policy: toPolicyView(
      await services.policies.set(caller, { action: input.action, mode: input.mode, fourEyes: input.four_eyes }),
    ),
  }),
});
