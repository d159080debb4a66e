// revoke_federation_peer: ends a peering here and tells the remote side (signed, best effort).
import { z } from 'zod';
import { InvalidInputError } from '../src/errors.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput, federationPeerView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'revoke_federation_peer',
  title: 'Revoke federation peer',
  description:
    'Revokes a federation peer so every later call from it is refused, writes an audit entry and a federation.peer.revoked event, and tells the remote side (best effort, reported in the result).',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: {
    federation_peer_id: federationPeerIdInput.optional(),
    id: federationPeerIdInput
      .optional()
      .describe('the same as federation_peer_id (the tutorial’s cleanup calls it id)'),
  },
  output: {
    federation_peer: federationPeerView,
    remote_notified: z.boolean().describe('true when the remote side acknowledged the revocation'),
    remote_error: z.string().nullable().describe('why the remote side could not be told, if it could not'),
  },
  handler: async ({ services, caller }, input) => {
    if (input.federation_peer_id !== undefined && input.id !== undefined) {
      throw new InvalidInputError('give federation_peer_id or id, not both');
    }
    const ref = input.federation_peer_id ?? input.id;
    if (ref === undefined) {
      throw new InvalidInputError('federation_peer_id is required', { hint: 'list_federation_peers shows the peers' });
    }
    const result = await services.federation.revoke(caller, ref);
    return {
      federation_peer: toPeerView(result.peer),
      remote_notified: result.remoteNotified,
      remote_error: result.remoteError,
    };
  },
});
