// agent_introspect: what the fleet autonomy agent is allowed to do and whether its reconciler ticks.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';
import { NotFoundError } from '../src/errors.js';
import { policyView, toPolicyView } from './shared/approval-views.js';

const KNOWN_AGENTS = ['fleet_autonomy_agent'];

export default defineTool({
  name: 'agent_introspect',
  title: 'Introspect agent',
  description:
    "Shows an autonomy agent's intervention policies, the skills it runs and its reconciler's tick interval and last tick, to find out why an approval never appears or a batch never starts; reads only.",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { agent_id: safeText({ min: 1 }).describe('the agent, e.g. fleet_autonomy_agent') },
  output: {
    agent_id: z.string(),
    intervention_policies: z.array(policyView),
    skills: z.array(z.string()).describe('skill names the agent executes'),
    reconciler: z.object({
      tick_ms: z.number().int(),
      last_tick_at: isoTime.nullable().describe('null when the reconciler has not ticked since start'),
    }),
  },
  handler: async ({ services, caller }, input) => {
    if (!KNOWN_AGENTS.includes(input.agent_id)) {
      throw new NotFoundError(`no agent ${input.agent_id}`, { hint: `known agents: ${KNOWN_AGENTS.join(', ')}` });
    }
    const info = services.platform.info(caller);
    return {
      agent_id: input.agent_id,
      intervention_policies: (await services.policies.list()).map(toPolicyView),
      skills: services.skills.list().map((s) => s.name),
      reconciler: { tick_ms: info.tickMs, last_tick_at: info.lastTickAt?.toISOString() ?? null },
    };
  },
});
