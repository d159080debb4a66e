// revoke_peer_identity_binding: ends a binding at once; the peer's calls naming that operator are refused.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { peerIdentityBindingView, toBindingView } from './shared/identity-binding-views.js';

export default defineTool({
  name: 'revoke_peer_identity_binding',
  title: 'Revoke peer identity binding',
  description:
    'Revokes a peer identity binding at once, so the peer’s calls naming that operator are refused from the next call on; audited here and on the peer.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: {
    binding_id: z.string().min(1).max(200).describe('the binding id, as list_peer_identity_bindings shows it'),
    reason: safeText({ min: 1, max: 500 }).optional().describe('why the binding is revoked, kept in the audit log'),
  },
  output: { binding: peerIdentityBindingView },
  handler: async ({ services, caller }, input) => {
    const binding = await services.peerIdentities.revoke(caller, {
      bindingId: input.binding_id,
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return { binding: toBindingView(binding) };
  },
});
