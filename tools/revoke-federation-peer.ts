// revoke_federation_peer: ends a peering here and tells the remote side (signed, best effort).
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput, federationPeerView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'revoke_federation_peer',
  title: 'Revoke federation peer',
  description:
    'Revokes a federation peer so every later call from it is refused, writes an audit entry and a federation.peer.revoked event, and tells the remote side (best effort, reported in the result).',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: { federation_peer_id: federationPeerIdInput },
  output: {
    federation_peer: federationPeerView,
    remote_notified: z.boolean().describe('true when the remote side acknowledged the revocation'),
    remote_error: z.string().nullable().describe('why the remote side could not be told, if it could not'),
  },
  handler: async ({ services, caller }, input) => {
    const result = await services.federation.revoke(caller, input.federation_peer_id);
    return {
      federation_peer: toPeerView(result.peer),
      remote_notified: result.remoteNotified,
      remote_error: result.remoteError,
    };
  },
});
