// list_boundary_rules: a peer's ingress rules in the order they are evaluated.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { boundaryRuleView, federationPeerIdInput, toBoundaryRuleView } from './shared/federation-views.js';

export default defineTool({
  name: 'list_boundary_rules',
  title: 'List boundary rules',
  description:
    'Lists the ingress boundary rules of a federation peer by ascending priority, the order they are evaluated in (no rules: every capability is accepted); reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federation_peer_id: federationPeerIdInput, ...pagingInput },
  output: { federation_peer_id: z.string(), rules: z.array(boundaryRuleView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const { peer, page } = await services.boundary.list({
      peerRef: input.federation_peer_id,
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toBoundaryRuleView);
    return { federation_peer_id: peer.id, rules: items, next_cursor };
  },
});
