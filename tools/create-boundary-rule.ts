// create_boundary_rule: one ingress rule of a peer's boundary, the federation firewall.
import { z } from 'zod';
import { BOUNDARY_ACTIONS, MAX_BOUNDARY_PRIORITY } from '../src/domain/capabilities.js';
import { defineTool } from '../src/mcp/define-tool.js';
import {
  boundaryRuleView,
  capabilityInput,
  federationPeerIdInput,
  toBoundaryRuleView,
} from './shared/federation-views.js';

export default defineTool({
  name: 'create_boundary_rule',
  title: 'Create boundary rule',
  description:
    'Adds an ingress rule that drops or accepts a capability for calls from a federation peer, evaluated by ascending priority with the first match winning (drop * plus accepts makes default deny); writes an audit entry.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput,
    direction: z.enum(['ingress']).describe('ingress: calls from the peer to this platform'),
    action: z.enum(BOUNDARY_ACTIONS).describe('drop refuses matching calls, accept lets them through'),
    capability: capabilityInput,
    priority: z
      .number()
      .int()
      .min(0)
      .max(MAX_BOUNDARY_PRIORITY)
      .describe('lower numbers are evaluated first; unique per peer, e.g. 10 for an accept and 100 for a drop of *'),
  },
  output: { boundary_rule: boundaryRuleView },
  handler: async ({ services, caller }, input) => {
    const rule = await services.boundary.create(caller, {
      peerRef: input.federation_peer_id,
      direction: input.direction,
      action: input.action,
      capability: input.capability,
      priority: input.priority,
    });
    return { boundary_rule: toBoundaryRuleView(rule) };
  },
});
