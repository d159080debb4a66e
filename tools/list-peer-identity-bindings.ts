// list_peer_identity_bindings: which peer operators act here as which local operators, oldest first.
import { z } from 'zod';
import { BINDING_STATUSES } from '../src/domain/peer-identity.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { federationPeerIdInput } from './shared/federation-views.js';
import { peerIdentityBindingView, toBindingView } from './shared/identity-binding-views.js';

export default defineTool({
  name: 'list_peer_identity_bindings',
  title: 'List peer identity bindings',
  description:
    'Lists peer identity bindings oldest first (which operator of a peer acts here as which local operator), optionally for one peer or status; reads only.',
  role: 'admin',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput.optional(),
    status: z.enum(BINDING_STATUSES).optional().describe('only bindings in this status: active or revoked'),
    ...pagingInput,
  },
  output: { bindings: z.array(peerIdentityBindingView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.peerIdentities.list({
      limit: clampLimit(input.limit),
      ...(input.federation_peer_id === undefined ? {} : { peerRef: input.federation_peer_id }),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toBindingView);
    return { bindings: items, next_cursor };
  },
});
