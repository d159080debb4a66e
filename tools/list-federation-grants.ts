// list_federation_grants: grants this platform issued to peers and received from them, oldest first.
import { z } from 'zod';
import { GRANT_STATUSES } from '../src/domain/capabilities.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { federationGrantView, federationPeerIdInput, toGrantView } from './shared/federation-views.js';

export default defineTool({
  name: 'list_federation_grants',
  title: 'List federation grants',
  description:
    'Lists federation grants oldest first (issued: rights a peer holds here; received: rights this platform holds on a peer) with scopes, status and expiry, optionally for one peer or status; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput.optional(),
    status: z.enum(GRANT_STATUSES).optional().describe('only grants in this status: active, revoked or archived'),
    ...pagingInput,
  },
  output: { grants: z.array(federationGrantView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.grants.list({
      limit: clampLimit(input.limit),
      ...(input.federation_peer_id === undefined ? {} : { peerRef: input.federation_peer_id }),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toGrantView);
    return { grants: items, next_cursor };
  },
});
