// create_peer_identity_binding: lets one operator of a peer act here as a named local operator.
import { operatorNameSchema } from '../src/domain/names.js';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';
import { peerIdentityBindingView, toBindingView } from './shared/identity-binding-views.js';

export default defineTool({
  name: 'create_peer_identity_binding',
  title: 'Create peer identity binding',
  description:
    'Binds an operator of a federation peer to a local operator, so the peer’s calls naming that operator act here as the local one (within its role, the peer’s grants and boundary rules); audited here and on the peer.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    federation_peer_id: federationPeerIdInput,
    remote_operator: operatorNameSchema.describe('the peer’s operator, as its calls name it (on_behalf_of)'),
    local_operator: operatorNameSchema.describe('the active operator of this platform those calls act as'),
    reason: safeText({ min: 1, max: 500 })
      .optional()
      .describe('why the binding is made, kept with it and in the audit log'),
  },
  output: { binding: peerIdentityBindingView },
  handler: async ({ services, caller }, input) => {
    const binding = await services.peerIdentities.bind(caller, {
      peerRef: input.federation_peer_id,
      remoteOperator: input.remote_operator,
      localOperator: input.local_operator,
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return { binding: toBindingView(binding) };
  },
});
