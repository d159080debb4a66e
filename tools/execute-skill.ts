// execute_skill: plans a rolling upgrade (or previews it with dry_run) through the skills service.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { planOutput, toPlanOutput } from './shared/rollout-views.js';

export default defineTool({
  name: 'execute_skill',
  title: 'Execute skill',
  description:
    'Runs a skill such as system-rolling-module-upgrade: plans the batches and, unless dry_run, records the rollout with an approval request or starts it per the intervention policy, writing module.upgrade events.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: {
    skill: safeText({ min: 1 }).describe('skill name, e.g. system-rolling-module-upgrade (list_skills shows them)'),
    inputs: z
      .record(safeText(), z.unknown())
      .describe(
        'the skill inputs, checked strictly against its schema (list_skills), e.g. { template_id, module_id, target_version_id, batch_pct }',
      ),
    dry_run: z.boolean().optional().describe('true: plan and show the batches without writing anything'),
  },
  output: planOutput,
  handler: async ({ services, caller }, input) =>
    toPlanOutput(await services.skills.execute(caller, input.skill, input.inputs, input.dry_run ?? false)),
});
